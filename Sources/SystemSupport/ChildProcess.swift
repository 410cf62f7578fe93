import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// How a process ended, in the terms swctr reports (Docker's conventions for signals: 128+N).
public enum ExitStatus: Equatable, Sendable {
    case exited(Int32)
    case signaled(Int32)

    public init(waitStatus: Int32) {
        if swctr_wifsignaled(waitStatus) != 0 {
            self = .signaled(swctr_wtermsig(waitStatus))
        } else {
            self = .exited(swctr_wexitstatus(waitStatus))
        }
    }

    /// The code a shell would show: the exit code, or 128 + the signal number.
    public var shellCode: Int32 {
        switch self {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        }
    }
}

/// A process id. Only the owner that spawned it waits for it.
public struct ProcessID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: pid_t
    public init(rawValue: pid_t) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }
}

/// The one place swctr starts processes: posix_spawn (no Swift code runs between fork and exec),
/// with an explicit fd layout and every other descriptor closed.
public enum ChildProcess {
    /// `fileDescriptors` maps a child's fd number to the parent's fd to put there; fds 0-2 that are
    /// not given are inherited.
    public static func spawn(
        _ path: String, arguments: [String], environment: [String],
        fileDescriptors: [Int32: FileDescriptor] = [:], newSession: Bool = false
    ) throws(SystemCallError) -> ProcessID {
        var layout = fileDescriptors
        for standard in Int32(0)...2 where layout[standard] == nil { layout[standard] = FileDescriptor(rawValue: standard) }
        let targets = layout.keys.sorted()
        let sources = targets.map { layout[$0]!.rawValue }
        var pid: pid_t = 0
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        let result = swctr_spawn(&pid, path, argv, envp, targets, sources, Int32(targets.count), newSession ? 1 : 0)
        if result != 0 { throw SystemCallError("spawn", on: path) }
        return ProcessID(rawValue: pid)
    }

    /// Waits for a child to end.
    /// Reaps a helper that should end by itself now: killed if it has not within `milliseconds`.
    public static func reap(_ pid: ProcessID, killingAfter milliseconds: Int32) {
        let pidfd = swctr_pidfd_open(pid.rawValue)
        if pidfd >= 0 {
            var entry = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
            var result: Int32
            repeat { result = poll(&entry, 1, milliseconds) } while result < 0 && errno == EINTR
            close(pidfd)
            if result == 0 { kill(pid.rawValue, SIGKILL) }
        } else {
            kill(pid.rawValue, SIGKILL)
        }
        _ = try? wait(pid)
    }

    public static func wait(_ pid: ProcessID) throws(SystemCallError) -> ExitStatus {
        var status: Int32 = 0
        try systemCall("waitpid", on: String(pid.rawValue)) { waitpid(pid.rawValue, &status, 0) }
        return ExitStatus(waitStatus: status)
    }

    /// Waits for the process behind `pidfd` to end without reaping it (it stays a zombie, so its
    /// pid cannot be reused until `wait`); nil if the wait failed.
    public static func waitLeavingZombie(pidfd: Int32) -> ExitStatus? {
        var status: Int32 = 0
        while true {
            let result = swctr_waitid_pidfd(pidfd, &status, 1, 0)
            if result > 0 { return ExitStatus(waitStatus: status) }
            if result < 0 && errno == EINTR { continue }
            return nil
        }
    }

    /// Runs a program to completion with its output captured (for short helper programs).
    public static func run(_ path: String, arguments: [String], environment: [String] = []) throws(SystemCallError) -> (status: ExitStatus, output: String) {
        try runConcurrently([(path, arguments)], environment: environment)[0]
    }

    /// Runs the programs at once (each its own stdout+stderr pipe) and waits for all of them;
    /// their results in the same order. If one cannot be started, those started are waited for.
    public static func runConcurrently(_ programs: [(path: String, arguments: [String])],
                                       environment: [String] = []) throws(SystemCallError) -> [(status: ExitStatus, output: String)] {
        try startConcurrently(programs, environment: environment).wait()
    }

    /// Starts the programs at once, each with its own stdout+stderr pipe; `wait()` collects them.
    /// If one cannot be started, those started are still there for `wait()`, which throws then.
    /// They are spawned by a thread of its own, so the caller goes on at once instead of waiting
    /// for each exec (see `swctr_spawn_batch_start`).
    public static func startConcurrently(_ programs: [(path: String, arguments: [String])],
                                         environment: [String] = []) -> ConcurrentPrograms {
        let devNull: FileDescriptor
        do { devNull = try FileDescriptor.open("/dev/null", O_RDONLY) } catch { return ConcurrentPrograms(started: [], failure: error) }
        var pipes: [(read: FileDescriptor, write: FileDescriptor)] = []
        for _ in programs {
            var pipeFds: [Int32] = [0, 0]
            do {
                try systemCall("pipe2") { swctr_pipe2(&pipeFds, O_CLOEXEC) }
            } catch {
                devNull.close()
                for pipe in pipes { pipe.read.close(); pipe.write.close() }
                return ConcurrentPrograms(started: [], failure: error)
            }
            pipes.append((FileDescriptor(rawValue: pipeFds[0]), FileDescriptor(rawValue: pipeFds[1])))
        }
        let strings = SpawnStrings(programs, environment: environment)
        guard let batch = swctr_spawn_batch_start(Int32(programs.count), strings.paths, strings.argvs, strings.environment,
                                                  pipes.map(\.write.rawValue), devNull.rawValue) else {
            let error = SystemCallError("spawn", on: programs.first?.path)
            devNull.close()
            for pipe in pipes { pipe.read.close(); pipe.write.close() }
            return ConcurrentPrograms(started: [], failure: error)
        }
        return ConcurrentPrograms(spawning: .init(batch: batch, strings: strings, paths: programs.map(\.path), pipes: pipes, devNull: devNull))
    }

    /// Looks a program up in PATH (or the given directories).
    public static func findExecutable(_ name: String, searchPath: String? = nil) -> String? {
        if name.utf8.contains(UInt8(ascii: "/")) { return access(name, X_OK) == 0 ? name : nil }
        // Split as bytes: this runs at every `swctr run`, and Substring's generic code is slower.
        for directory in executableSearchPath(searchPath).utf8.split(separator: UInt8(ascii: ":")) {
            let candidate = String(decoding: directory, as: UTF8.self) + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// The directories `findExecutable` searches, in order, `:`-separated: `searchPath` (else
    /// `PATH`, else a default), then the system's own.
    public static func executableSearchPath(_ searchPath: String? = nil) -> String {
        (searchPath ?? ProcessEnvironment.current["PATH"] ?? "/usr/local/bin:/usr/bin:/bin") + ":/usr/sbin:/usr/bin:/sbin:/bin"
    }
}

/// Programs `ChildProcess.startConcurrently` started, not yet waited for.
public final class ConcurrentPrograms {
    /// A spawning thread not yet joined, with what it uses.
    struct Spawning {
        let batch: OpaquePointer
        /// The C strings the batch reads, kept until it is finished; nil when they are not ours.
        let strings: SpawnStrings?
        let paths: [String]
        let pipes: [(read: FileDescriptor, write: FileDescriptor)]
        let devNull: FileDescriptor
    }

    private var spawning: Spawning?
    private var started: [(pid: ProcessID, output: FileDescriptor)]
    private var failure: SystemCallError?

    init(started: [(pid: ProcessID, output: FileDescriptor)], failure: SystemCallError?) {
        self.started = started
        self.failure = failure
    }

    init(spawning: Spawning) {
        self.spawning = spawning
        self.started = []
    }

    /// Programs that C code started with `swctr_spawn_batch_start` before Swift ran (the early
    /// id-map helpers, see cnamespaces.h), taken over as if `startConcurrently` had started them:
    /// `paths` name them, `pipes` are their output pipes (the write ends are closed once the batch
    /// is finished), `input` their stdin. The batch's strings stay the C code's.
    public static func adopting(batch: OpaquePointer, paths: [String], pipes: [(read: Int32, write: Int32)],
                                input: Int32) -> ConcurrentPrograms {
        ConcurrentPrograms(spawning: Spawning(
            batch: batch, strings: nil, paths: paths,
            pipes: pipes.map { (FileDescriptor(rawValue: $0.read), FileDescriptor(rawValue: $0.write)) },
            devNull: FileDescriptor(rawValue: input)))
    }

    /// Joins the thread that spawns the programs, if it is still there (it ends once they are
    /// spawned): after this, the only threads of this process are its own again.
    public func settle() {
        joinSpawning()
    }

    /// Joins the spawning thread: its programs become `started`, the pipes' write ends close.
    private func joinSpawning() {
        guard let spawning else { return }
        self.spawning = nil
        var pids = [pid_t](repeating: 0, count: spawning.pipes.count)
        let error = swctr_spawn_batch_finish(spawning.batch, &pids)
        spawning.devNull.close()
        for (pid, pipe) in zip(pids, spawning.pipes) {
            pipe.write.close()
            if pid > 0 { started.append((ProcessID(rawValue: pid), pipe.read)) } else { pipe.read.close() }
        }
        if error != 0 {
            let path = started.count < spawning.paths.count ? spawning.paths[started.count] : ""
            failure = SystemCallError("spawn", on: path, errno: error)
        }
        withExtendedLifetime(spawning.strings) {}
    }

    /// Waits for every program; their exit statuses and output, in the order given. Throws the
    /// error that kept one from starting (the others have been waited for then).
    public func wait() throws(SystemCallError) -> [(status: ExitStatus, output: String)] {
        joinSpawning()
        var results: [(status: ExitStatus, output: String)] = []
        for child in started {
            let output = (try? child.output.readAll(limit: 1 << 20)) ?? []
            child.output.close()
            let status = (try? ChildProcess.wait(child.pid)) ?? .exited(125)
            results.append((status, String(decoding: output, as: UTF8.self)))
        }
        started = []
        if let failure { throw failure }
        return results
    }

    /// Lets the programs be: the spawning thread is joined and their output closed, but they are
    /// not waited for (once this process has exited, whoever reaps orphans reaps them).
    public func leave() {
        joinSpawning()
        for child in started { child.output.close() }
        started = []
        failure = nil
    }

    deinit { _ = try? wait() }
}

/// C copies of programs' paths and arguments and of an environment, for a spawn that outlives the
/// call that asked for it; freed with this object.
final class SpawnStrings {
    let paths: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    let argvs: UnsafeMutablePointer<UnsafePointer<UnsafeMutablePointer<CChar>?>?>
    let environment: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let count: Int

    init(_ programs: [(path: String, arguments: [String])], environment: [String]) {
        count = programs.count
        paths = .allocate(capacity: count)
        argvs = .allocate(capacity: count)
        for (index, program) in programs.enumerated() {
            paths[index] = strdup(program.path)
            argvs[index] = UnsafePointer(Self.copy(program.arguments))
        }
        self.environment = Self.copy(environment)
    }

    /// A NULL-terminated array of copies.
    private static func copy(_ strings: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        let array = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() { array[index] = strdup(string) }
        array[strings.count] = nil
        return array
    }

    private static func free(_ array: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) {
        var index = 0
        while let string = array[index] {
            Glibc.free(string)
            index += 1
        }
        array.deallocate()
    }

    deinit {
        for index in 0..<count {
            Glibc.free(paths[index])
            if let argv = argvs[index] { Self.free(UnsafeMutablePointer(mutating: argv)) }
        }
        paths.deallocate()
        argvs.deallocate()
        Self.free(environment)
    }
}
