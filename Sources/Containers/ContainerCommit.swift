import ImageStore
import Runtime

/// What `swctr commit` was asked for.
public struct CommitRequest: Sendable {
    public var container: String
    /// The new image's name, normalised (`docker.io/library/app:1`); nil leaves it unnamed.
    public var name: String?
    public var changes: [ConfigurationChange] = []
    public var message: String?
    public var author: String?
    /// `--pause`: freeze a running container while its writable layer is read.
    public var pause = false

    public init(container: String, name: String?) {
        self.container = container
        self.name = name
    }
}

extension ContainerService {
    /// `swctr commit`: a new image made of the container's image and one layer holding the
    /// container's changes (what `diff` lists), in the store and named. The container may be
    /// running; `pause` freezes it meanwhile. On failure nothing is added to the store.
    public func commit(_ request: CommitRequest, store: ImageStore) throws -> ImageRecord {
        let record = try find(request.container)
        guard let parent = try store.lookup(record.settings.imageID) else {
            throw ContainerLayerError.imageMissing(container: request.container, image: record.settings.image)
        }
        var froze = false
        if request.pause && record.status == .running && !resourceState(of: record).paused {
            try setPaused(request.container, true)
            froze = true
        }
        defer { if froze { try? setPaused(record.id, false) } }

        let (input, output) = try layerPipe()
        let process: NamespacedProcess
        do { process = try startLayerRole(record, mode: .layer, output: output) } catch {
            input.close(); output.close()
            throw error
        }
        output.close()
        var roleFinished = false
        defer {
            // Closed first: a role still writing gets EPIPE and ends, and is then waited for.
            input.close()
            if !roleFinished { try? finishLayerRole(process, mode: .layer, text: request.container, streamError: nil) }
        }
        let imageRequest = ImageCommitRequest(
            parent: parent, name: request.name, changes: request.changes, message: request.message, author: request.author,
            createdBy: record.settings.process.arguments.joined(separator: " "))
        return try store.commitImage(
            imageRequest, layerTar: input,
            layerComplete: {
                roleFinished = true
                try finishLayerRole(process, mode: .layer, text: request.container, streamError: nil)
            }, unpacker: context.tools)
    }
}
