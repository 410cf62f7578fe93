import FoundationEssentials
import ImageReference
import ImageStore
import Registry
import Rootfs
import Runtime
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// What `swctr run` was asked to do.
public struct RunRequest: Sendable {
    public var image: String
    public var process = ProcessOptions()
    public var removeWhenDone = false
    public var interactive = false
    public var network: NetworkMode = .none
    public var tlsVerify = true

    public init(image: String) { self.image = image }
}

/// A container's record, kept with it until it is removed.
public struct ContainerRecord: Codable, Sendable {
    public var id: String
    public var image: String
    public var imageID: String
    public var command: [String]
    public var created: String
    public var exitCode: Int32?
    public var finished: String?
}

public enum RunError: Error, UserFacingError {
    case spec(ProcessSpecError)
    case storage(SystemCallError)

    public var userMessage: String {
        switch self {
        case .spec(let error): return error.userMessage
        case .storage(let error): return "cannot prepare the container: \(error.description)"
        }
    }
}

/// Runs a container in the foreground: image (pulled if missing) → spec → namespaces → wait.
public final class ContainerRunner {
    let store: ImageStore
    let tools: UserNamespaceTools
    let idMaps: IDMapPlan
    let warn: (String) -> Void

    public init(store: ImageStore, idMaps: IDMapPlan, warn: @escaping (String) -> Void) {
        self.store = store
        self.idMaps = idMaps
        self.tools = UserNamespaceTools(idMaps: idMaps)
        self.warn = warn
    }

    /// Finds the image locally, or pulls it as `docker run` does.
    public func resolveImage(_ name: String, tlsVerify: Bool) throws -> ImageRecord {
        if let record = try store.lookup(name) { return record }
        let reference = try ImageReference.parse(name)
        warn("Unable to find image '\(reference.description)' locally")
        let client = RegistryClient(reference: reference, tlsVerify: tlsVerify)
        return try store.pull(reference, client: client, unpacker: tools)
    }

    /// Runs the container and returns its exit code (Docker's conventions).
    public func run(_ request: RunRequest) throws -> Int32 {
        let image = try resolveImage(request.image, tlsVerify: request.tlsVerify)
        let configuration = try store.configuration(of: image)
        let id = FileSystem.randomHex(bytes: 32)
        let hostname = request.process.hostname ?? String(id.prefix(12))
        let processSpec: ProcessSpec
        do {
            processSpec = try ProcessSpecBuilder.build(image: configuration.config, options: request.process, hostname: hostname, hostEnvironment: ProcessEnvironment.current)
        } catch { throw RunError.spec(error) }

        let directory = ContainerDirectory(path: store.layout.containersDirectory + "/" + id)
        do { try directory.create() } catch { throw RunError.storage(error) }
        var removeDirectory = true
        defer {
            if removeDirectory { try? tools.removeTree(directory.path) }
        }
        let spec: ContainerSpec
        do {
            let files = try directory.writeNetworkFiles(hostname: hostname, hostNetwork: request.network == .host)
            spec = ContainerSpec(process: processSpec, rootfs: directory.overlayPlan(layers: store.layerDirectories(of: image)),
                                 hostname: hostname, network: request.network, generatedFiles: files)
            let encoder = JSONEncoder()
            try FileSystem.writeAtomically(directory.specPath, Array(try encoder.encode(spec)), mode: 0o600)
            let record = ContainerRecord(id: id, image: request.image, imageID: image.id.description, command: processSpec.arguments,
                                         created: Date.now.formatted(.iso8601), exitCode: nil, finished: nil)
            try FileSystem.writeAtomically(directory.recordPath, Array(try encoder.encode(record)), mode: 0o600)
        } catch let error as SystemCallError {
            throw RunError.storage(error)
        }

        var namespaces: NamespaceSet = [.user, .mount, .pid, .uts, .ipc, .cgroup]
        if request.network.needsNamespace { namespaces.insert(.network) }
        var stdio: [Int32: FileDescriptor] = [:]
        var devNull: FileDescriptor?
        if !request.interactive && !processSpec.terminal {
            devNull = try? FileDescriptor.open("/dev/null", O_RDONLY)
            if let devNull { stdio[0] = devNull }
        }
        ForwardedSignals.block()
        defer { ForwardedSignals.unblock() }
        let process = try NamespacedProcess.start(
            arguments: [ContainerInitRole.name, directory.specPath], environment: [],
            namespaces: namespaces, idMaps: idMaps, stdio: stdio)
        devNull?.close()
        var master: FileDescriptor?
        try process.waitForExec(onTerminal: { master = $0 })
        let status = ForegroundSession(pid: process.pid, terminalMaster: master, forwardInput: request.interactive).waitForExit()

        if !request.removeWhenDone {
            removeDirectory = false
            if var record = try? JSONDecoder().decode(ContainerRecord.self, from: Data(FileSystem.readFile(directory.recordPath))) {
                record.exitCode = status.shellCode
                record.finished = Date.now.formatted(.iso8601)
                try? FileSystem.writeAtomically(directory.recordPath, Array(JSONEncoder().encode(record)), mode: 0o600)
            }
        }
        return status.shellCode
    }
}

/// The hidden subcommand that the container's init runs as.
public enum ContainerInitRole {
    public static let name = "__init"
}
