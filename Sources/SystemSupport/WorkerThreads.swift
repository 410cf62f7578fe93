import CLinux
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

/// Work begun on a thread of its own while the caller goes on with something else; `wait()` joins
/// the thread and gives the result. The thread starts with every signal blocked, so signals stay
/// with the threads that expect them. After `wait()` the process has as many threads as before
/// (the kernel has released this one too), so a fork without exec that checks for one thread can
/// follow. Where no thread can be made, `wait()` does the work itself.
public final class BackgroundWork<Value>: @unchecked Sendable {
    private var body: (() -> Value)?
    private var result: Value?
    private var thread: pthread_t?
    /// The thread's id in the kernel, set by the thread first thing.
    private var kernelThreadID: Int32 = 0

    public init(_ body: @escaping () -> Value) {
        self.body = body
        var blocked = sigset_t()
        var previous = sigset_t()
        sigfillset(&blocked)
        pthread_sigmask(SIG_SETMASK, &blocked, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        let start = Unmanaged.passRetained(ThreadStart { [self] in
            kernelThreadID = swctr_gettid()
            result = self.body?()
        }).toOpaque()
        let entry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { context in
            Unmanaged<ThreadStart>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }
        var made = pthread_t()
        if pthread_create(&made, nil, entry, start) == 0 {
            thread = made
        } else {
            Unmanaged<ThreadStart>.fromOpaque(start).release()
        }
    }

    /// The work's result, once it is done (done here if no thread could be started).
    public func wait() -> Value {
        if let running = thread {
            pthread_join(running, nil)
            thread = nil
            // pthread_join returns when the thread's memory is no longer used, a moment before the
            // kernel takes the thread out of the process.
            let path = "/proc/self/task/\(kernelThreadID)"
            var tries = 0
            while kernelThreadID > 0 && access(path, F_OK) == 0 && tries < 10_000 {
                sched_yield()
                tries += 1
            }
        }
        if let result { return result }
        let made = body!()
        result = made
        return made
    }

    deinit {
        if let running = thread { pthread_join(running, nil) }
    }
}

private final class ThreadStart {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
