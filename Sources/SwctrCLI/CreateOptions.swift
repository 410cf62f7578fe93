import ArgumentParser
import Cgroups
import Containers
import HostCheck
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// The flags `run` and `create` share: what the container is.
struct CreateOptions: ParsableArguments {
    @Option(help: "Assign a name to the container.")
    var name: String?

    @Flag(help: "Remove the container when it exits.")
    var rm = false

    @Flag(name: .shortAndLong, help: "Keep standard input open (pass it to the container).")
    var interactive = false

    @Flag(name: .shortAndLong, help: "Allocate a pseudo-terminal.")
    var tty = false

    @Option(name: .shortAndLong, help: "Set an environment variable (NAME=VALUE, or NAME to pass the host's value).")
    var env: [String] = []

    @Option(name: .shortAndLong, help: "Working directory inside the container.")
    var workdir: String?

    @Option(name: .shortAndLong, help: "User to run as: name, uid, name:group or uid:gid.")
    var user: String?

    @Option(help: "Replace the image's entrypoint (\"\" clears it).")
    var entrypoint: String?

    @Option(name: [.customShort("h"), .long], help: "Container host name.")
    var hostname: String?

    // Options with a default are declared optional, the default applied below and named in the
    // help: swift-argument-parser describes an initial value at every parse, with conformance
    // look-ups that each scan every record of the binary (7 of a run's 41 scans).
    @Option(name: [.customLong("network"), .customLong("net")], help: "Network: slirp[:allow_host_loopback=true,mtu=N,enable_ipv6=BOOL] (the default), none, host or container:NAME.")
    var networkGiven: String?
    var network: String { networkGiven ?? "slirp" }

    @Option(name: [.customShort("p"), .long], help: "Publish a port: [IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp] (ranges allowed).")
    var publish: [String] = []

    @Flag(name: [.customShort("P"), .customLong("publish-all")], help: "Publish the image's exposed ports on free host ports.")
    var publishAll = false

    @Option(help: "DNS server for the container's resolv.conf (default: 10.0.2.3, which forwards to the host's).")
    var dns: [String] = []

    @Option(name: .customLong("dns-search"), help: "DNS search domain (\".\" for none).")
    var dnsSearch: [String] = []

    @Option(name: .customLong("dns-option"), help: "DNS resolver option (resolv.conf options).")
    var dnsOption: [String] = []

    @Option(name: .customLong("add-host"), help: "Add NAME:IP to /etc/hosts (IP may be host-gateway).")
    var addHost: [String] = []

    @Option(name: .customLong("restart"), help: "Restart policy: no, on-failure[:max-retries], always, unless-stopped (default: no).")
    var restartGiven: String?
    var restart: String { restartGiven ?? "no" }

    @Option(name: .customLong("stop-signal"), help: "Signal that stops the container (default: SIGTERM).")
    var stopSignalGiven: String?
    var stopSignal: String { stopSignalGiven ?? "SIGTERM" }

    @Option(name: .customLong("stop-timeout"), help: "Seconds to wait after the stop signal before SIGKILL (default: 10).")
    var stopTimeoutGiven: Int?
    var stopTimeout: Int { stopTimeoutGiven ?? 10 }

    @Option(name: .customLong("log-opt"), help: "Log option: max-size=SIZE (e.g. 10m; the log rotates past it).")
    var logOptions: [String] = []

    @Option(name: [.customShort("v"), .long], help: "Mount a volume: HOSTDIR:CTRDIR[:ro], NAME:CTRDIR[:ro] or CTRDIR (anonymous).")
    var volume: [String] = []

    @Option(help: "Mount: type=bind|volume|tmpfs,source=…,target=…[,readonly].")
    var mount: [String] = []

    @Option(help: "Mount a tmpfs: CTRDIR[:size=64m,mode=1777,…].")
    var tmpfs: [String] = []

    @Flag(name: .customLong("read-only"), help: "Mount the container's root filesystem read-only.")
    var readOnly = false

    @Flag(help: "All capabilities, no seccomp filter, no masked paths (still inside the user namespace).")
    var privileged = false

    @Option(name: .customLong("cap-add"), help: "Add a capability (e.g. NET_ADMIN, or ALL).")
    var capAdd: [String] = []

    @Option(name: .customLong("cap-drop"), help: "Drop a capability (e.g. CHOWN, or ALL).")
    var capDrop: [String] = []

    @Option(name: .customLong("security-opt"), help: "no-new-privileges, seccomp=unconfined or seccomp=PROFILE.json.")
    var securityOptions: [String] = []

    @Option(help: "Resource limit: NAME=SOFT[:HARD] (e.g. nofile=1024:2048).")
    var ulimit: [String] = []

    @Option(name: .customLong("env-file"), help: "Read environment variables from a file (NAME=VALUE lines).")
    var envFile: [String] = []

    @Flag(help: "Run a small init as pid 1 that reaps zombies and forwards signals.")
    var `init` = false

    @Option(name: .customLong("group-add"), help: "Add a supplementary group (name or gid).")
    var groupAdd: [String] = []

    @Option(help: "User namespace: keep-id (your uid and gid appear unchanged inside), or the default.")
    var userns: String?

    @OptionGroup(title: "Resources (cgroup v2 controllers delegated to you)") var resources: ResourceOptions

    @OptionGroup var registry: RegistryOptions

    @Option(help: "Pull this platform's variant of the image: OS/ARCH[/VARIANT].")
    var platform: String?

    @Option(help: "How the root filesystem is made: overlay (kernel), fuse-overlay or copy (default: $SWCTR_STORAGE_DRIVER, storage.conf, else probed).")
    var storageDriver: String?

    func validate() throws {
        // --network and -p are checked when the request is made: a one-line error, exit 125.
        guard RestartPolicy(parsing: restart) != nil else {
            throw ValidationError("invalid restart policy \"\(restart)\": use no, on-failure[:N], always or unless-stopped")
        }
        guard SignalName.parse(stopSignal) != nil else {
            throw ValidationError("unknown signal \"\(stopSignal)\": use a name such as SIGTERM or a number")
        }
        guard stopTimeout >= 0 else { throw ValidationError("--stop-timeout must be 0 or more seconds") }
        _ = try logMaxSize()
        if let userns, userns != "keep-id" && userns != "host" && !userns.isEmpty {
            throw ValidationError("unsupported --userns \"\(userns)\": use keep-id (or leave it out for the default mapping)")
        }
    }

    func logMaxSize() throws -> Int64 {
        var size: Int64 = 10 << 20
        for option in logOptions {
            guard option.hasPrefix("max-size="), let value = parseSize(String(option.dropFirst(9))) else {
                throw ValidationError("unsupported --log-opt \"\(option)\": use max-size=SIZE such as 10m")
            }
            size = value
        }
        return size
    }

    func parseSize(_ text: String) -> Int64? {
        let lower = text.lowercased()
        let units: [(String, Int64)] = [("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("b", 1)]
        for (suffix, factor) in units where lower.hasSuffix(suffix) {
            return Int64(lower.dropLast()).map { $0 * factor }
        }
        return Int64(lower)
    }

    /// `--security-opt` values as Docker and Podman spell them.
    func applySecurityOptions(to request: inout CreateRequest) throws {
        for option in securityOptions {
            let separator = option.firstIndex { $0 == "=" || $0 == ":" }
            let key = separator.map { String(option[..<$0]) } ?? option
            let value = separator.map { String(option[option.index(after: $0)...]) }
            switch key {
            case "no-new-privileges":
                guard value == nil || value == "true" || value == "false" else {
                    throw ValidationError("invalid --security-opt \"\(option)\": use no-new-privileges or no-new-privileges=false")
                }
                request.noNewPrivileges = value != "false"
            case "seccomp":
                guard let value, !value.isEmpty else { throw ValidationError("--security-opt seccomp needs =unconfined or =PROFILE.json") }
                if value == "unconfined" {
                    request.seccomp = .unconfined
                } else {
                    let bytes: [UInt8]
                    do { bytes = try FileSystem.readFile(value, limit: 4 << 20) } catch {
                        throw CLIError(SeccompProfileError.unreadable(path: value, reason: error.description).message)
                    }
                    do { request.seccomp = .profile(try SeccompProfile.parse(bytes)) } catch { throw CLIError(error.message + " (in \(value))") }
                }
            case "label", "apparmor":
                // No SELinux or AppArmor confinement here: accepted so scripts carry over.
                continue
            default:
                throw ValidationError("unsupported --security-opt \"\(option)\": use no-new-privileges, seccomp=unconfined or seccomp=PROFILE.json")
            }
        }
    }

    /// `--env-file` lines: NAME=VALUE, or NAME to pass the host's value; # comments and blank lines skipped.
    func environmentFromFiles() throws -> [String] {
        var entries: [String] = []
        for path in envFile {
            let text: String
            do { text = try FileSystem.readText(path) } catch { throw CLIError("cannot read --env-file \(path): \(error.description)") }
            for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                var line = Substring(rawLine)
                if line.hasSuffix("\r") { line = line.dropLast() }
                while let first = line.first, first == " " || first == "\t" { line = line.dropFirst() }
                if line.isEmpty || line.hasPrefix("#") { continue }
                let name = line.prefix { $0 != "=" }
                if name.isEmpty || name.contains(where: { $0 == " " || $0 == "\t" }) {
                    throw CLIError("invalid line \(index + 1) in --env-file \(path): expected NAME=VALUE or NAME")
                }
                entries.append(String(line))
            }
        }
        return entries
    }

    func request(image: String, command: [String]) throws -> CreateRequest {
        var request = CreateRequest(image: image)
        let directory = FileSystem.currentDirectory()
        do {
            request.mounts = try volume.map { (text) throws(MountRequestError) in try MountRequest.parseVolume(text, currentDirectory: directory) }
                + mount.map { (text) throws(MountRequestError) in try MountRequest.parseMount(text, currentDirectory: directory) }
                + tmpfs.map { (text) throws(MountRequestError) in try MountRequest.parseTmpfs(text) }
            request.resourceLimits = try ulimit.map { (text) throws(ResourceLimitError) in try ResourceLimit.parse(text) }
        } catch let error as MountRequestError {
            throw CLIError(error.message)
        } catch let error as ResourceLimitError {
            throw CLIError(error.message)
        }
        try applySecurityOptions(to: &request)
        request.resources = try resources.limits()
        request.readOnlyRoot = readOnly
        request.privileged = privileged
        request.capabilitiesAdded = capAdd
        request.capabilitiesDropped = capDrop
        request.runsInit = `init`
        request.additionalGroups = groupAdd
        request.keepUserID = userns == "keep-id"
        request.name = name
        request.autoRemove = rm
        request.interactive = interactive
        request.network = try networkRequest()
        request.registryAccess = try registry.access
        request.platform = try parsePlatform(platform)
        do {
            request.storageDriver = try StorageDriverSelection.choose(flag: storageDriver, environment: ProcessEnvironment.current,
                                                                      directories: UserDirectories.current()).driver
        } catch {
            throw CLIError(error.userMessage)
        }
        request.pullEvents = PullProgress(quiet: false).handler
        request.restartPolicy = RestartPolicy(parsing: restart) ?? .never
        request.stopSignal = SignalName.parse(stopSignal) ?? SIGTERM
        request.stopTimeout = stopTimeout
        request.logMaxSize = try logMaxSize()
        request.process.command = command
        request.process.entrypoint = entrypoint
        request.process.environment = try environmentFromFiles() + env
        request.process.workingDirectory = workdir
        request.process.user = user
        request.process.terminal = tty
        request.process.hostname = hostname
        return request
    }

    /// `--network` and `-p` parsed.
    func parsedNetwork() -> Result<NetworkRequest, NetworkOptionError> {
        Result { () throws(NetworkOptionError) -> NetworkRequest in
            var request = NetworkRequest()
            request.mode = try NetworkMode(parsing: network)
            for text in publish { request.publishedPorts += try PortMapping.parse(text) }
            return request
        }
    }

    func networkRequest() throws -> NetworkRequest {
        var request: NetworkRequest
        switch parsedNetwork() {
        case .success(let parsed): request = parsed
        case .failure(let error): throw CLIError(error.message)
        }
        request.publishAll = publishAll
        request.dnsServers = dns
        request.dnsSearch = dnsSearch
        request.dnsOptions = dnsOption
        request.extraHosts = addHost
        return request
    }
}
