// Drives the real swctr binary as the unprivileged test user against the loopback registries that
// scripts/setup-test-host.sh started (`make test` exports their addresses).
import Foundation
import XCTest

/// Thrown (so the test fails) when `make test` did not prepare the host.
struct HostNotPrepared: Error, CustomStringConvertible {
    let reason: String
    var description: String { "the test host is not prepared: " + reason }
}

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
}

enum TestHost {
    static let environment = ProcessInfo.processInfo.environment
    static var binary: String? { environment["SWCTR_BIN"] }
    static var user: String? { environment["SWCTR_TEST_USER"] }
    static var registry: String? { environment["SWCTR_TEST_REGISTRY"] }
    static var tamperedRegistry: String? { environment["SWCTR_TEST_TAMPERED_REGISTRY"] }
    static var images: [String] { (environment["SWCTR_TEST_IMAGES"] ?? "").split(separator: ",").map(String.init) }

    /// Fails the test (never skips it) when the host was not prepared.
    static func require(file: StaticString = #filePath, line: UInt = #line) throws -> (binary: String, user: String, registry: String) {
        guard let binary, let user, let registry else {
            throw HostNotPrepared(reason: "run `make test` (it runs scripts/setup-test-host.sh and exports SWCTR_BIN, SWCTR_TEST_USER, SWCTR_TEST_REGISTRY)")
        }
        return (binary, user, registry)
    }

    static var isRoot: Bool { getuid() == 0 }

    static func passwdEntry(_ user: String) -> (uid: uid_t, gid: gid_t, home: String)? {
        guard let entry = getpwnam(user) else { return nil }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid, String(cString: entry.pointee.pw_dir))
    }

    /// Runs programs all at once (no input) and collects each one's output, in order.
    static func executeConcurrently(_ commandLines: [[String]]) -> [CommandResult] {
        var running: [(Process, String)] = []
        for arguments in commandLines {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: arguments[0])
            process.arguments = Array(arguments.dropFirst())
            let base = NSTemporaryDirectory() + "swctr-it-out-\(UUID().uuidString)"
            FileManager.default.createFile(atPath: base + ".out", contents: nil)
            FileManager.default.createFile(atPath: base + ".err", contents: nil)
            process.standardOutput = FileHandle(forWritingAtPath: base + ".out")
            process.standardError = FileHandle(forWritingAtPath: base + ".err")
            process.standardInput = FileHandle.nullDevice
            try? process.run()
            running.append((process, base))
        }
        return running.map { process, base in
            if process.isRunning || process.processIdentifier != 0 { process.waitUntilExit() }
            let out = String(decoding: FileManager.default.contents(atPath: base + ".out") ?? Data(), as: UTF8.self)
            let err = String(decoding: FileManager.default.contents(atPath: base + ".err") ?? Data(), as: UTF8.self)
            try? FileManager.default.removeItem(atPath: base + ".out")
            try? FileManager.default.removeItem(atPath: base + ".err")
            let status = process.processIdentifier == 0 ? -1 : process.terminationStatus
            return CommandResult(status: status, stdout: out, stderr: err)
        }
    }

    /// Runs a program, feeding `input`, and collects its output.
    static func execute(_ arguments: [String], input: String? = nil, environment: [String: String]? = nil) -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        if let environment { process.environment = environment }
        // Output goes to files, read after exit: no reader threads to coordinate.
        let base = NSTemporaryDirectory() + "swctr-it-out-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: base + ".out", contents: nil)
        FileManager.default.createFile(atPath: base + ".err", contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: base + ".out")
            try? FileManager.default.removeItem(atPath: base + ".err")
        }
        guard let stdout = FileHandle(forWritingAtPath: base + ".out"), let stderr = FileHandle(forWritingAtPath: base + ".err") else {
            return CommandResult(status: -1, stdout: "", stderr: "cannot create output files")
        }
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        do { try process.run() } catch { return CommandResult(status: -1, stdout: "", stderr: "\(error)") }
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        process.waitUntilExit()
        try? stdout.close()
        try? stderr.close()
        let outData = FileManager.default.contents(atPath: base + ".out") ?? Data()
        let errData = FileManager.default.contents(atPath: base + ".err") ?? Data()
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return CommandResult(status: status, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// One isolated swctr user state (its own data and runtime directories), run as the test user.
final class SwctrUser {
    let binary: String
    let user: String
    let registry: String
    let dataHome: String
    let runtimeDir: String
    let home: String

    /// - Parameter otherUser: run as this user instead of the test user (e.g. the one without
    ///   subordinate ids).
    init(otherUser: String? = nil) throws {
        let host = try TestHost.require()
        binary = host.binary
        user = otherUser ?? host.user
        registry = host.registry
        guard let entry = TestHost.passwdEntry(user) else { throw HostNotPrepared(reason: "there is no user \(user)") }
        home = entry.home
        let base = "/tmp/swctr-it-\(getpid())-\(UUID().uuidString.prefix(8))"
        dataHome = base + "/data"
        runtimeDir = base + "/run"
        for directory in [base, dataHome, runtimeDir] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            if TestHost.isRoot { chown(directory, entry.uid, entry.gid) }
        }
        self.base = base
    }

    private let base: String
    /// More `NAME=VALUE` for swctr's environment (e.g. SWCTR_RESOLV_CONF).
    var extraEnvironment: [String] = []

    var storeRoot: String { dataHome + "/swctr" }
    /// A directory the test user owns, for files a test makes on the host side.
    var scratch: String { base }

    /// The command line that runs `arguments` as the test user with this state.
    func commandLine(_ arguments: [String]) -> [String] {
        let environment = ["HOME=\(home)", "XDG_DATA_HOME=\(dataHome)", "XDG_RUNTIME_DIR=\(runtimeDir)", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"]
            + extraEnvironment
        if TestHost.isRoot {
            return ["/usr/sbin/runuser", "-u", user, "--", "/usr/bin/env", "-i"] + environment + [binary] + arguments
        }
        return ["/usr/bin/env", "-i"] + environment + [binary] + arguments
    }

    /// Runs a shell script as the test user with this state; `$SWCTR` is swctr (or `binary`).
    @discardableResult
    func shell(_ script: String, binary other: String? = nil) -> CommandResult {
        let environment = ["HOME=\(home)", "XDG_DATA_HOME=\(dataHome)", "XDG_RUNTIME_DIR=\(runtimeDir)", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                           "LANG=C.UTF-8", "SWCTR=\(other ?? binary)"] + extraEnvironment
        let command = ["/usr/bin/env", "-i"] + environment + ["/bin/sh", "-c", script]
        return TestHost.execute(TestHost.isRoot ? ["/usr/sbin/runuser", "-u", user, "--"] + command : command)
    }

    @discardableResult
    func swctr(_ arguments: String..., input: String? = nil) -> CommandResult {
        TestHost.execute(commandLine(arguments), input: input)
    }

    func swctr(arguments: [String], input: String? = nil) -> CommandResult {
        TestHost.execute(commandLine(arguments), input: input)
    }

    func image(_ name: String) -> String { "\(registry)/test/\(name)" }

    /// Files in the store other than its empty skeleton directories and its spare container
    /// directories.
    func storeFiles() -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: storeRoot) else { return [] }
        var files: [String] = []
        while let path = enumerator.nextObject() as? String {
            // Removed containers' directories kept for new ones (LifecycleTests checks them).
            if path.hasPrefix("spare-containers") { continue }
            var isDirectory: ObjCBool = false
            FileManager.default.fileExists(atPath: storeRoot + "/" + path, isDirectory: &isDirectory)
            if !isDirectory.boolValue && path != "store.lock" && path != "storage-driver" && !path.hasPrefix("state.db") { files.append(path) }
            if isDirectory.boolValue && path.split(separator: "/").count >= 2 && !path.hasPrefix("blobs") { files.append(path + "/") }
        }
        return files.sorted()
    }

    /// Removes this state's containers (their monitors included), so no process outlives the test.
    func removeContainers() {
        guard FileManager.default.fileExists(atPath: storeRoot + "/state.db") else { return }
        let ids = swctr("ps", "-aq", "--no-trunc").stdout.split(separator: "\n").map(String.init)
        if !ids.isEmpty { swctr(arguments: ["rm", "-f"] + ids) }
    }

    func cleanUp() {
        removeContainers()
        if TestHost.isRoot {
            _ = TestHost.execute(["/bin/rm", "-rf", base])
        } else {
            try? FileManager.default.removeItem(atPath: base)
        }
    }

    deinit { cleanUp() }
}

/// A test with its own isolated swctr state, run as the unprivileged test user.
class SwctrTestCase: XCTestCase {
    var state: SwctrUser!

    override func setUpWithError() throws {
        state = try SwctrUser()
    }

    override func tearDown() {
        state?.cleanUp()
        state = nil
    }
}
