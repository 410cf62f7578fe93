import ArgumentParser
import Containers
import RuntimeSpec
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

    @Option(help: "Network: none (loopback only, the default for now) or host.")
    var network: String = "none"

    @Option(help: "Restart policy: no, on-failure[:max-retries], always, unless-stopped.")
    var restart: String = "no"

    @Option(name: .customLong("stop-signal"), help: "Signal that stops the container (default SIGTERM).")
    var stopSignal: String = "SIGTERM"

    @Option(name: .customLong("stop-timeout"), help: "Seconds to wait after the stop signal before SIGKILL (default 10).")
    var stopTimeout: Int = 10

    @Option(name: .customLong("log-opt"), help: "Log option: max-size=SIZE (e.g. 10m; the log rotates past it).")
    var logOptions: [String] = []

    @OptionGroup var tls: TLSOptions

    func validate() throws {
        guard NetworkMode(rawValue: network) != nil else {
            throw ValidationError("unknown network mode \"\(network)\": use none or host")
        }
        guard RestartPolicy(parsing: restart) != nil else {
            throw ValidationError("invalid restart policy \"\(restart)\": use no, on-failure[:N], always or unless-stopped")
        }
        guard SignalName.parse(stopSignal) != nil else {
            throw ValidationError("unknown signal \"\(stopSignal)\": use a name such as SIGTERM or a number")
        }
        guard stopTimeout >= 0 else { throw ValidationError("--stop-timeout must be 0 or more seconds") }
        _ = try logMaxSize()
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

    func request(image: String, command: [String]) throws -> CreateRequest {
        var request = CreateRequest(image: image)
        request.name = name
        request.autoRemove = rm
        request.interactive = interactive
        request.network = NetworkMode(rawValue: network) ?? .none
        request.tlsVerify = tls.tlsVerify
        request.restartPolicy = RestartPolicy(parsing: restart) ?? .never
        request.stopSignal = SignalName.parse(stopSignal) ?? SIGTERM
        request.stopTimeout = stopTimeout
        request.logMaxSize = try logMaxSize()
        request.process.command = command
        request.process.entrypoint = entrypoint
        request.process.environment = env
        request.process.workingDirectory = workdir
        request.process.user = user
        request.process.terminal = tty
        request.process.hostname = hostname
        return request
    }
}
