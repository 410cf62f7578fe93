#if canImport(Glibc)
import Glibc
#endif

/// A mutual-exclusion lock (a pthread mutex) for state that worker threads share.
public final class Lock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    public init() { pthread_mutex_init(mutex, nil) }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// Runs a body on several threads at once and waits for all of them (for I/O-bound work such as
/// downloads, where more workers than cores help). Worker 0 runs on the calling thread.
public enum WorkerThreads {
    private final class Work {
        let body: (Int) -> Void
        let index: Int
        init(body: @escaping (Int) -> Void, index: Int) {
            self.body = body
            self.index = index
        }
    }

    public static func run(count: Int, _ body: @escaping (Int) -> Void) {
        var threads: [pthread_t] = []
        for index in 1..<max(count, 1) {
            let work = Unmanaged.passRetained(Work(body: body, index: index)).toOpaque()
            var thread = pthread_t()
            let started = pthread_create(&thread, nil, { context in
                let work = Unmanaged<Work>.fromOpaque(context!).takeRetainedValue()
                work.body(work.index)
                return nil
            }, work)
            if started == 0 {
                threads.append(thread)
            } else {
                // No thread: this worker's share is done by the others (they take from one queue).
                Unmanaged<Work>.fromOpaque(work).release()
            }
        }
        body(0)
        for thread in threads { pthread_join(thread, nil) }
    }
}
