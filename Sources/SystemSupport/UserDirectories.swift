#if canImport(Glibc)
import Glibc
#endif

/// The per-user directories swctr keeps its state in (XDG base directories).
public struct UserDirectories: Sendable {
    /// Images, layers, containers' writable layers: `$XDG_DATA_HOME/swctr`.
    public let data: String
    /// Live state that must not survive a reboot: `$XDG_RUNTIME_DIR/swctr`, or a private /tmp dir.
    public let runtime: String
    /// Configuration: `$XDG_CONFIG_HOME/swctr`.
    public let config: String

    public init(data: String, runtime: String, config: String) {
        self.data = data
        self.runtime = runtime
        self.config = config
    }

    public static func current(environment: [String: String] = ProcessEnvironment.current) -> UserDirectories {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? homeFromPasswd()
        func base(_ variable: String, _ fallback: String) -> String {
            if let value = environment[variable], value.hasPrefix("/") { return value }
            return home + "/" + fallback
        }
        let runtimeBase: String
        if let value = environment["XDG_RUNTIME_DIR"], value.hasPrefix("/") {
            runtimeBase = value + "/swctr"
        } else {
            runtimeBase = "/tmp/swctr-run-\(getuid())"
        }
        return UserDirectories(
            data: base("XDG_DATA_HOME", ".local/share") + "/swctr",
            runtime: runtimeBase,
            config: base("XDG_CONFIG_HOME", ".config") + "/swctr")
    }

    private static func homeFromPasswd() -> String {
        if let entry = getpwuid(getuid()), let dir = entry.pointee.pw_dir { return String(cString: dir) }
        return "/"
    }

    /// Makes the runtime directory, private to this user; refuses one that another user owns.
    public func prepareRuntimeDirectory() throws -> String {
        try FileSystem.makeDirectories(runtime, mode: 0o700)
        var info = stat()
        try systemCall("stat", on: runtime) { stat(runtime, &info) }
        if info.st_uid != getuid() {
            throw SystemCallError("runtime directory is owned by another user", on: runtime, errno: EPERM)
        }
        if info.st_mode & 0o077 != 0 { _ = chmod(runtime, 0o700) }
        return runtime
    }
}

/// The process environment as a dictionary, read once.
public enum ProcessEnvironment {
    /// The environment swctr was started with, read once: swctr never changes its own (the C
    /// constructor drops its private variables before Swift runs), and a `run` asked for it about
    /// ten times (paths, registries, the storage driver, the container's defaults), each time a
    /// new dictionary of every variable.
    public static let current: [String: String] = {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            // Split at the first "=" as bytes (Character search is generic code).
            let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(entry).assumingMemoryBound(to: UInt8.self), count: strlen(entry))
            if let equals = bytes.firstIndex(of: UInt8(ascii: "=")) {
                result[String(decoding: bytes[..<equals], as: UTF8.self)] = String(decoding: bytes[(equals + 1)...], as: UTF8.self)
            }
            pointer += 1
        }
        return result
    }()
}

