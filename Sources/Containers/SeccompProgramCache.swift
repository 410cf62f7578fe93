import FoundationEssentials
import Registry
import Runtime
import RuntimeSpec
import SystemSupport

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
        let profile: SeccompProfile
        switch process.seccomp {
        case .unconfined: return nil
        case .builtinDefault: profile = DefaultSeccompProfile.profile
        case .profile(let given): profile = given
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var key = Array(try encoder.encode(profile))
        key += Array(("|" + process.capabilities.sorted().joined(separator: ",") + "|" + SeccompFilter.nativeArchitecture).utf8)
        let path = directory + "/" + ContentHasher.digest(of: key).hex + ".bpf"
        if let cached = try? FileSystem.readFile(path), !cached.isEmpty, cached.count % 8 == 0 { return cached }
        let program: [UInt8]
        do {
            program = try SeccompFilter.compile(profile, capabilities: process.capabilities)
        } catch {
            throw SystemCallError(error.step, errno: error.errno)
        }
        try? FileSystem.makeDirectories(directory, mode: 0o700)
        try? FileSystem.writeAtomically(path, program, mode: 0o600)
        return program
    }
}
