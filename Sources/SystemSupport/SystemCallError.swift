// SystemSupport owns the thin layer between swctr and the kernel/libc: syscall errors as typed
// values, owned file descriptors, per-user directories, file helpers and process spawning.
#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which call, on what, and the errno it returned.
public struct SystemCallError: Error, CustomStringConvertible, Equatable {
    public let call: String
    public let subject: String?
    public let errno: Int32

    public init(_ call: String, on subject: String? = nil, errno: Int32 = Glibc.errno) {
        self.call = call
        self.subject = subject
        self.errno = errno
    }

    public var reason: String { String(cString: strerror(errno)) }

    public var description: String {
        if let subject { return "\(call) \(subject): \(reason)" }
        return "\(call): \(reason)"
    }
}

/// An error a user sees: one line that says what failed, why, and what to do.
public protocol UserFacingError: Error {
    var userMessage: String { get }
}

extension SystemCallError: UserFacingError {
    public var userMessage: String { description }
}

/// Runs a syscall-style body (returning -1 and setting errno on failure), retrying on EINTR.
@discardableResult
public func systemCall<Result: BinaryInteger>(_ call: String, on subject: String? = nil, _ body: () -> Result) throws(SystemCallError) -> Result {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw SystemCallError(call, on: subject, errno: code)
    }
}
