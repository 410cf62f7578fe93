import ArgumentParser
import Containers
import FoundationEssentials
import ImageStore
import RuntimeSpec

/// Docker-shaped `inspect` output for a container.
struct ContainerInspection: Encodable {
    struct StateInfo: Encodable {
        let Status: String, Running: Bool, Paused: Bool, Restarting: Bool, OOMKilled: Bool, Dead: Bool
        let Pid: Int32, ExitCode: Int32, Error: String, StartedAt: String, FinishedAt: String
    }
    struct ConfigInfo: Encodable {
        let Hostname: String, User: String, Env: [String], Cmd: [String], Image: String, WorkingDir: String
        let Tty: Bool, OpenStdin: Bool, StopSignal: String, StopTimeout: Int
    }
    struct RestartPolicyInfo: Encodable { let Name: String, MaximumRetryCount: Int }
    struct LogConfig: Encodable { let `Type`: String, Config: [String: String] }
    struct HostConfigInfo: Encodable {
        let NetworkMode: String, RestartPolicy: RestartPolicyInfo, AutoRemove: Bool, LogConfig: LogConfig
        let Privileged: Bool, ReadonlyRootfs: Bool, CapAdd: [String], SecurityOpt: [String], UsernsMode: String, Init: Bool
        let GroupAdd: [String], Ulimits: [UlimitInfo]
        let PortBindings: [String: [PortBinding]], Dns: [String], DnsSearch: [String], DnsOptions: [String], ExtraHosts: [String]
    }
    struct PortBinding: Encodable { let HostIp: String, HostPort: String }
    struct UlimitInfo: Encodable { let Name: String, Soft: Int64, Hard: Int64 }
    struct NetworkSettingsInfo: Encodable {
        let IPAddress: String, Gateway: String, IPPrefixLen: Int, MacAddress: String, Ports: [String: [PortBinding]]
    }
    struct Mount: Encodable { let `Type`: String, Name: String?, Source: String, Destination: String, RW: Bool, Mode: String }

    let Id: String, Created: String, Path: String, Args: [String], State: StateInfo, Image: String, ImageName: String
    let Name: String, RestartCount: Int, Driver: String, LogPath: String, Config: ConfigInfo, HostConfig: HostConfigInfo
    let Mounts: [Mount], NetworkSettings: NetworkSettingsInfo

    init(_ record: ContainerRecord, logPath: String, volumesRoot: String, ports: [PortMapping],
         resources: ContainerResourceState = ContainerResourceState()) {
        let settings = record.settings
        let zeroTime = "0001-01-01T00:00:00Z"
        Id = record.id
        Created = Timestamp.rfc3339(record.created)
        Path = settings.process.arguments.first ?? ""
        Args = Array(settings.process.arguments.dropFirst())
        self.State = StateInfo(Status: ContainerPresentation.dockerState(record), Running: record.status == .running, Paused: resources.paused, Restarting: false,
                      OOMKilled: resources.oomKilled, Dead: false, Pid: record.pid ?? 0, ExitCode: record.exitCode ?? 0, Error: record.error ?? "",
                      StartedAt: record.started.map(Timestamp.rfc3339) ?? zeroTime, FinishedAt: record.finished.map(Timestamp.rfc3339) ?? zeroTime)
        Image = settings.imageID
        ImageName = settings.image
        Name = "/" + record.name
        RestartCount = record.restartCount
        Driver = (settings.storageDriver ?? .overlay).rawValue
        LogPath = logPath
        self.Config = ConfigInfo(Hostname: settings.hostname, User: settings.process.user, Env: settings.process.environment, Cmd: settings.process.arguments,
                       Image: settings.image, WorkingDir: settings.process.workingDirectory, Tty: settings.process.terminal,
                       OpenStdin: settings.interactive, StopSignal: SignalName.name(of: settings.stopSignal), StopTimeout: settings.stopTimeout)
        func bindings(_ mappings: [PortMapping]) -> [String: [PortBinding]] {
            Dictionary(grouping: mappings, by: { "\($0.containerPort)/\($0.transport.rawValue)" }).mapValues { group in
                group.map { PortBinding(HostIp: $0.hostIP, HostPort: $0.hostPort == 0 ? "" : String($0.hostPort)) }
            }
        }
        self.HostConfig = HostConfigInfo(NetworkMode: settings.network.text,
                           RestartPolicy: RestartPolicyInfo(Name: settings.restartPolicy.kind.rawValue, MaximumRetryCount: settings.restartPolicy.maximumRetries),
                           AutoRemove: settings.autoRemove, LogConfig: LogConfig(Type: "json-file", Config: ["max-size": String(settings.logMaxSize)]),
                           Privileged: settings.privileged ?? false, ReadonlyRootfs: settings.readOnlyRoot ?? false,
                           CapAdd: settings.process.capabilities,
                           SecurityOpt: (settings.process.noNewPrivileges ? ["no-new-privileges"] : [])
                               + (settings.process.seccomp == .unconfined ? ["seccomp=unconfined"] : []),
                           UsernsMode: settings.userNamespace ?? "", Init: settings.process.runsInit,
                           GroupAdd: settings.process.additionalGroups,
                           Ulimits: settings.process.resourceLimits.map {
                               UlimitInfo(Name: $0.name, Soft: $0.soft == UInt64.max ? -1 : Int64($0.soft), Hard: $0.hard == UInt64.max ? -1 : Int64($0.hard))
                           },
                           PortBindings: bindings(settings.publishedPorts ?? []), Dns: settings.dnsServers ?? [],
                           DnsSearch: settings.dnsSearch ?? [], DnsOptions: settings.dnsOptions ?? [], ExtraHosts: settings.extraHosts ?? [])
        Mounts = (settings.mounts ?? []).map { mount in
            switch mount.kind {
            case .volume:
                return Mount(Type: "volume", Name: mount.source, Source: volumesRoot + "/" + (mount.source ?? "") + "/_data",
                             Destination: mount.destination, RW: !mount.readOnly, Mode: mount.readOnly ? "ro" : "")
            case .bind:
                return Mount(Type: "bind", Name: nil, Source: mount.source ?? "", Destination: mount.destination, RW: !mount.readOnly,
                             Mode: mount.readOnly ? "ro" : "")
            case .tmpfs:
                return Mount(Type: "tmpfs", Name: nil, Source: "", Destination: mount.destination, RW: !mount.readOnly, Mode: "")
            }
        }
        if case .slirp = settings.network {
            NetworkSettings = NetworkSettingsInfo(IPAddress: SlirpAddresses.container, Gateway: SlirpAddresses.gateway, IPPrefixLen: 24,
                                                  MacAddress: "02:53:57:00:02:64", Ports: record.status == .running ? bindings(ports) : [:])
        } else {
            NetworkSettings = NetworkSettingsInfo(IPAddress: "", Gateway: "", IPPrefixLen: 0, MacAddress: "", Ports: [:])
        }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", _superCommandName: Swctr.commandName, abstract: "Show containers' or images' details as JSON (Docker's shape).")

    @Option(name: .shortAndLong, help: "Print one field: a Go-template-like path such as {{.State.Status}} or .State.Pid.")
    var format: String?

    @Argument(help: "Containers or images (name, id or id prefix).")
    var containers: [String]

    @Option(name: .customLong("type"), help: "container, image, or all (the default: a container, else an image).")
    var kind = "all"

    func validate() throws {
        guard ["container", "image", "all"].contains(kind) else { throw ValidationError("--type must be container, image or all, not \"\(kind)\"") }
    }

    func run() throws {
        let service: ContainerService
        do { service = try Session.containerService() } catch { throw fail(error, exitCode: 125) }
        var documents: [JSONValue] = []
        var failed = false
        for name in containers {
            do {
                if kind != "image", let record = try? service.find(name) {
                    let document = ContainerInspection(record, logPath: service.context.directory(of: record.id).logPath,
                                                       volumesRoot: service.context.layout.root + "/volumes",
                                                       ports: PublishedPortsFile.read(record, context: service.context),
                                                       resources: service.resourceState(of: record))
                    documents.append(try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(document)))
                    continue
                }
                if kind != "container", let document = try InspectImages.inspection(of: name, store: try Session.open(quiet: true).store) {
                    documents.append(document)
                    continue
                }
                if kind == "image" { throw ImageStoreError.imageNotFound(name) }
                if kind == "container" { _ = try service.find(name) }  // its "no such container" error
                throw CLIError("no container or image named \(name) — see swctr ps -a and swctr images")
            } catch {
                _ = fail(error, exitCode: 1)
                failed = true
            }
        }
        try Self.printDocuments(documents, format: format, failed: failed)
        if failed { throw ExitCode(1) }
    }

    /// Prints inspect documents: one field each with `format`, else a JSON array.
    static func printDocuments(_ documents: [JSONValue], format: String?, failed: Bool) throws {
        if let format {
            for document in documents { print(Self.field(format, in: document)) }
        } else if !documents.isEmpty || !failed {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(documents), as: UTF8.self))
        }
    }

    /// `{{.State.Status}}` or `.State.Status`: the value at that path, as Go templates print it.
    /// A format with several `{{…}}` (and text between them) fills in each.
    static func field(_ format: String, in document: JSONValue) -> String {
        guard format.contains("{{") else { return value(at: format.trimmed, in: document) }
        var output = ""
        var rest = Substring(format)
        while let open = rest.firstRange(of: "{{"), let close = rest[open.upperBound...].firstRange(of: "}}") {
            output += rest[..<open.lowerBound]
            output += value(at: String(rest[open.upperBound..<close.lowerBound]).trimmed, in: document)
            rest = rest[close.upperBound...]
        }
        return output + rest
    }

    private static func value(at path: String, in document: JSONValue) -> String {
        var value: JSONValue? = document
        for key in path.split(separator: ".") {
            if case .object(let members)? = value { value = members[String(key)] } else { value = nil }
        }
        return value?.templateText ?? "<no value>"
    }
}

/// Any JSON value, for picking fields out of a document.
enum JSONValue: Codable {
    case string(String), number(Double), bool(Bool), null, array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .null: try container.encodeNil()
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    var templateText: String {
        switch self {
        case .string(let value): return value
        case .number(let value): return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        case .bool(let value): return value ? "true" : "false"
        case .null: return "<nil>"
        default:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? ""
        }
    }
}
