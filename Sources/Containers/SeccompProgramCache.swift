import FoundationEssentials
import Registry
import Runtime
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// Compiled seccomp programs, `$XDG_DATA_HOME/swctr/seccomp/<sha256>.bpf`, keyed by the profile,
/// the capability set (rules depend on it) and the architecture. libseccomp takes ~10 ms to
/// compile the default profile; a container start reads the result instead.
struct SeccompProgramCache {
    let directory: String

    init(context: ContainerContext) {
        directory = context.layout.root + "/seccomp"
    }

    /// The program for a process's seccomp setting; nil when unconfined.
    func program(for process: ProcessSpec) throws -> [UInt8]? {
        try cachedProgram(for: process)?.program
    }

    /// The program and the path of its cached copy (which a failed write may have left missing).
    private func cachedProgram(for process: ProcessSpec) throws -> (program: [UInt8], path: String)? {
        let profile: SeccompProfile
        switch process.seccomp {
        case .unconfined: return nil
        case .builtinDefault: profile = DefaultSeccompProfile.profile
        case .profile(let given): profile = given
        }
        var key: [UInt8]
        if process.seccomp == .builtinDefault, let binary = Self.binaryIdentity() {
            // The default profile is part of the binary: naming the binary names the profile, and
            // skips encoding ~400 rules at every create.
            key = Array("builtin-default|\(binary)".utf8)
        } else {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            key = Array(try encoder.encode(profile))
        }
        key += Array(("|" + process.capabilities.sorted().concatenated(separator: ",") + "|" + SeccompFilter.nativeArchitecture + "|" + SeccompFilter.programLayout).utf8)
        let path = directory + "/" + ContentHasher.digest(of: key).hex + ".bpf"
        if let cached = try? FileSystem.readFile(path), !cached.isEmpty, cached.count % 8 == 0 { return (cached, path) }
        let program: [UInt8]
        do {
            program = try SeccompFilter.compile(profile, capabilities: process.capabilities)
        } catch {
            throw SystemCallError(error.step, errno: error.errno)
        }
        try? FileSystem.makeDirectories(directory, mode: 0o700)
        try? FileSystem.writeAtomically(path, program, mode: 0o600)
        return (program, path)
    }

    /// The cached copy of the program for `process` itself, for a container that does not
    /// outlive this process (`--rm`): nothing to link into its directory and remove again. If
    /// the cache is cleared meanwhile, an `exec` into it compiles the program again. nil when
    /// unconfined or when the copy could not be written.
    func cachedPath(for process: ProcessSpec) throws -> String? {
        guard let (_, path) = try cachedProgram(for: process), FileSystem.exists(path) else { return nil }
        return path
    }

    /// Puts the program for `process` at `destination` (a new file); false when unconfined. A
    /// hard link to the cached copy where there is one (the cache may be cleared: the link stays),
    /// else a copy.
    func install(for process: ProcessSpec, at destination: String) throws -> Bool {
        guard let (program, path) = try cachedProgram(for: process) else { return false }
        if link(path, destination) == 0 { return true }
        try FileSystem.writeNew(destination, program, mode: 0o600)
        return true
    }

    /// This swctr binary (device, inode, size, modification time): another build or install is
    /// another file.
    static func binaryIdentity() -> String? {
        var info = stat()
        guard stat("/proc/self/exe", &info) == 0 else { return nil }
        return "\(info.st_dev):\(info.st_ino):\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    }
}
