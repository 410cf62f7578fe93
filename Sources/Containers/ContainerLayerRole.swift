import CLinux
import FoundationEssentials
import Runtime
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
    import Glibc
#endif

/// Why `diff`, `commit` or `export` could not read or write a container's filesystem.
public enum ContainerLayerError: Error, UserFacingError {
    /// The role that reads the layers failed: `verb` is the command (diff, commit, export).
    case failed(verb: String, container: String, reason: String)
    case imageMissing(container: String, image: String)
    case refusingTerminal
    case output(String, SystemCallError)
    /// The reader of the archive went away (`swctr export C | head`).
    case outputClosed

    public var userMessage: String {
        switch self {
        case .failed(let verb, let container, let reason):
            return "cannot \(verb) container \(container): \(reason)"
        case .imageMissing(let container, let image):
            return "the image of container \(container) (\(image)) is no longer in the store — a commit needs it as the new image's parent"
        case .refusingTerminal:
            return "refusing to write a tar archive to a terminal — use -o FILE or redirect the output"
        case .output(let path, let error):
            return "cannot write \(path): \(error.reason)"
        case .outputClosed:
            return "the output was closed before the archive was complete"
        }
    }
}

/// The `__container-layer` role: inside the user namespace (with the container's id maps, so
/// owners read as the container sees them), it reads a container's writable layer and its image's
/// layers and writes to its standard output one of:
/// - `diff`: the changes, each a kind letter, the absolute path and a NUL;
/// - `layer`: the changes as an OCI layer tar (whiteouts `.wh.NAME`, opaque `.wh..wh..opq`);
/// - `export`: the merged filesystem as a tar.
public enum ContainerLayerRole {
    public static let roleName = "__container-layer"

    enum Mode: String {
        case diff, layer, export

        /// The command that asks for it.
        var verb: String { self == .layer ? "commit" : rawValue }
    }

    public static func main(arguments: [String]) -> Never {
        guard let channel = RoleChannel.current else { _exit(125) }
        guard arguments.count == 2, let mode = Mode(rawValue: arguments[0]) else { channel.fail("bad arguments to \(roleName)") }
        // A reader that goes away is an error to report, not a signal to die of.
        signal(SIGPIPE, SIG_IGN)
        do {
            let spec: ContainerSpec
            do {
                spec = try JSONDecoder().decode(ContainerSpec.self, from: Data(FileSystem.readFile(arguments[1])))
            } catch {
                channel.fail("its spec \(arguments[1]) cannot be read")
            }
            try run(mode, plan: spec.rootfs, mountPoints: ignoredMountPoints(spec))
        } catch let error as SystemCallError {
            channel.fail(error.description, errno: error.errno)
        } catch {
            channel.fail("\(error)")
        }
        _exit(0)
    }

    /// The files and directories init makes to mount the runtime's own filesystems on, when the
    /// image lacks them (Podman leaves the same out of its diff).
    static func ignoredMountPoints(_ spec: ContainerSpec) -> Set<EntryPath> {
        Set(["dev", "proc", "sys"].map { EntryPath(text: $0) } + spec.generatedFiles.map { EntryPath(text: $0.containerPath) })
    }

    private static func run(_ mode: Mode, plan: RootfsPlan, mountPoints: Set<EntryPath>) throws {
        let attributes = try ExtendedAttributeReader()
        let lowersTopFirst = Array(plan.lowerDirectories.reversed())
        let wholeTree = plan.driver == .copy
        switch mode {
        case .export:
            let stack = try LayerStack(directories: [plan.upperDirectory] + (wholeTree ? [] : lowersTopFirst), attributes: attributes)
            let writer = try LayerTarWriter(fd: .standardOutput)
            try MergedTreeWalk(stack: stack).walk { path, source in try writer.write(path, source: source) }
            try writer.finish()
        case .diff:
            let output = ChangeRecordWriter(fd: .standardOutput)
            try walkChanges(plan, lowers: lowersTopFirst, mountPoints: mountPoints, attributes: attributes, sink: ChangeRecordSink(output: output))
            try output.flush()
        case .layer:
            let writer = try LayerTarWriter(fd: .standardOutput)
            try walkChanges(plan, lowers: lowersTopFirst, mountPoints: mountPoints, attributes: attributes, sink: LayerTarSink(writer: writer))
            try writer.finish()
        }
    }

    private static func walkChanges<Sink: ChangeSink>(
        _ plan: RootfsPlan, lowers: [String], mountPoints: Set<EntryPath>,
        attributes: ExtendedAttributeReader, sink: Sink
    ) throws {
        let upper = try LayerStack(directories: [plan.upperDirectory], attributes: attributes)
        let lower = try LayerStack(directories: lowers, attributes: attributes)
        var walk = ChangeWalk(upper: upper, lower: lower, ignoredMountPoints: mountPoints, sink: sink)
        if plan.driver == .copy { try walk.treeChanges() } else { try walk.overlayChanges() }
    }
}

/// `diff`'s records on the role's output: kind letter, absolute path, NUL.
final class ChangeRecordWriter {
    private let fd: FileDescriptor
    private var buffer: [UInt8] = []

    init(fd: FileDescriptor) { self.fd = fd }

    func append(_ kind: ChangeKind, _ path: EntryPath) throws(SystemCallError) {
        buffer.append(kind.rawValue)
        buffer += path.absolute
        buffer.append(0)
        if buffer.count >= 1 << 16 { try flush() }
    }

    func flush() throws(SystemCallError) {
        try fd.writeAll(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    /// The records as the parent reads them back.
    static func parse(_ bytes: [UInt8]) -> [ContainerChange] {
        bytes.split(separator: 0).compactMap { record in
            guard let first = record.first, let kind = ChangeKind(rawValue: first) else { return nil }
            return ContainerChange(kind: kind, path: Array(record.dropFirst()))
        }
    }
}

struct ChangeRecordSink: ChangeSink {
    let output: ChangeRecordWriter

    func entry(_ kind: ChangeKind, at path: EntryPath, source: EntrySource) throws { try output.append(kind, path) }
    func deleted(_ path: EntryPath, insideOpaqueDirectory: Bool) throws { try output.append(.deleted, path) }
    func opaque(_ path: EntryPath) throws {}
}

struct LayerTarSink: ChangeSink {
    let writer: LayerTarWriter

    func entry(_ kind: ChangeKind, at path: EntryPath, source: EntrySource) throws { try writer.write(path, source: source) }

    func deleted(_ path: EntryPath, insideOpaqueDirectory: Bool) throws {
        if !insideOpaqueDirectory { try writer.writeWhiteout(path) }
    }

    func opaque(_ path: EntryPath) throws { try writer.writeOpaqueMarker(path) }
}

extension ContainerService {
    /// `swctr diff`: the container's changes against its image, sorted by path.
    public func changes(of text: String) throws -> [ContainerChange] {
        let record = try find(text)
        let (input, output) = try layerPipe()
        let process: NamespacedProcess
        do { process = try startLayerRole(record, mode: .diff, output: output) } catch {
            input.close(); output.close()
            throw error
        }
        output.close()
        var streamError: Error?
        var bytes: [UInt8] = []
        do { bytes = try input.readAll() } catch { streamError = error }
        input.close()
        try finishLayerRole(process, mode: .diff, text: text, streamError: streamError)
        return ChangeRecordWriter.parse(bytes).sorted { $0.path.lexicographicallyPrecedes($1.path) }
    }

    /// `swctr export`: the merged filesystem as a tar on `output`.
    public func export(_ text: String, to output: FileDescriptor) throws {
        let record = try find(text)
        let process = try startLayerRole(record, mode: .export, output: output)
        try finishLayerRole(process, mode: .export, text: text, streamError: nil)
    }

    /// `swctr export -o FILE`: written beside FILE under a temporary name and renamed into place
    /// once complete, so FILE is never half-written.
    public func export(_ text: String, toFile path: String) throws {
        let record = try find(text)
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let temporary = directory + ".\(base).swctr-\(FileSystem.randomHex(bytes: 6))"
        let file: FileDescriptor
        do { file = try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_EXCL, mode: 0o666) } catch {
            throw ContainerLayerError.output(path, error)
        }
        var complete = false
        defer {
            file.close()
            if !complete { unlink(temporary) }
        }
        let process = try startLayerRole(record, mode: .export, output: file)
        try finishLayerRole(process, mode: .export, text: text, streamError: nil)
        do {
            try file.sync()
            try systemCall("rename", on: path) { Glibc.rename(temporary, path) }
        } catch {
            throw ContainerLayerError.output(path, error)
        }
        complete = true
    }

    /// Starts the layer role on the container's spec, writing to `output`.
    func startLayerRole(_ record: ContainerRecord, mode: ContainerLayerRole.Mode, output: FileDescriptor) throws -> NamespacedProcess {
        try NamespacedProcess.start(
            arguments: [ContainerLayerRole.roleName, mode.rawValue, context.directory(of: record.id).specPath],
            environment: [], namespaces: .user, idMaps: try context.idMaps(for: record), stdio: [1: output])
    }

    /// Waits for the layer role; its own report of a failure comes first, then what the reading
    /// side found, then how it ended.
    func finishLayerRole(_ process: NamespacedProcess, mode: ContainerLayerRole.Mode, text: String, streamError: Error?) throws {
        var reported: Error?
        do { try process.waitForExec() } catch { reported = error }
        let status = (try? ChildProcess.wait(process.pid)) ?? .exited(1)
        if let reported {
            if case RuntimeError.initFailed(let step, let code) = reported {
                if code == EPIPE && mode == .export { throw ContainerLayerError.outputClosed }
                throw ContainerLayerError.failed(verb: mode.verb, container: text, reason: step)
            }
            throw reported
        }
        if let streamError { throw streamError }
        if status != .exited(0) {
            throw ContainerLayerError.failed(verb: mode.verb, container: text, reason: "its \(ContainerLayerRole.roleName) process ended with \(status)")
        }
    }

    func layerPipe() throws -> (read: FileDescriptor, write: FileDescriptor) {
        var ends: [Int32] = [0, 0]
        try systemCall("pipe2") { swctr_pipe2(&ends, O_CLOEXEC) }
        return (FileDescriptor(rawValue: ends[0]), FileDescriptor(rawValue: ends[1]))
    }
}
