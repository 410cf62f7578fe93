import ImageReference
import Registry
import SystemSupport

/// Where a pull may get an image: a registry (or mirror) and the repository's path there.
public struct PullSource: Sendable {
    public let client: RegistryClient
    public let repository: String

    public init(client: RegistryClient, repository: String) {
        self.client = client
        self.repository = repository
    }
}

/// What a pull reports as it goes, for progress output. Sent from worker threads.
public enum PullEvent: Sendable {
    /// A source (a mirror) failed; the next one is tried.
    case sourceFailed(String, reason: String)
    /// The image's layers, lowest first.
    case layers([Descriptor])
    case layerPresent(Digest)
    case blobPresent(Digest)
    case blobProgress(Digest, received: Int64, total: Int64)
    case blobDownloaded(Digest)
    case layerUnpacking(Digest)
    case layerDone(Digest)
    case finished(manifest: Digest)
}

/// Paths a pull created, to remove if it fails (shared by its workers).
final class CreatedPaths: @unchecked Sendable {
    private let lock = Lock()
    private var list: [String] = []

    func add(_ paths: [String]) { lock.withLock { list += paths } }
    func clear() { lock.withLock { list.removeAll() } }
    var paths: [String] { lock.withLock { list } }
}

/// Hands out job numbers to workers; after the first failure no new job starts.
final class JobQueue: @unchecked Sendable {
    private let lock = Lock()
    private let count: Int
    private var next = 0
    private var firstFailure: Error?

    init(count: Int) { self.count = count }

    func take() -> Int? {
        lock.withLock {
            guard firstFailure == nil, next < count else { return nil }
            next += 1
            return next - 1
        }
    }

    func fail(_ error: Error) { lock.withLock { if firstFailure == nil { firstFailure = error } } }
    var failure: Error? { lock.withLock { firstFailure } }
}
