import Runtime
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// The host half of `swctr info`: kernel, distribution, cgroups, id maps, libslirp.
public struct HostSummary: Codable, Sendable {
    public let kernel: String
    public let os: String
    public let architecture: String
    public let rootless: Bool
    public let cgroup: CgroupLayout
    public let uidMappings: [IDMapping]
    public let gidMappings: [IDMapping]
    /// Why the id maps are a fallback, if they are.
    public let idMappingWarning: String?
    public let slirpLibrary: Bool

    public static func current() -> HostSummary {
        var name = utsname()
        uname(&name)
        func text<T>(_ field: T) -> String { withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }
        let plan = IDMapPlan.current()
        return HostSummary(kernel: text(name.release), os: operatingSystemName(), architecture: text(name.machine), rootless: getuid() != 0,
                           cgroup: CgroupLayout.current(), uidMappings: plan.uidMappings, gidMappings: plan.gidMappings,
                           idMappingWarning: plan.warning, slirpLibrary: hasSlirpLibrary())
    }

    /// PRETTY_NAME from /etc/os-release.
    static func operatingSystemName() -> String {
        let text = (try? FileSystem.readText("/etc/os-release")) ?? (try? FileSystem.readText("/usr/lib/os-release")) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
            return String(line.dropFirst("PRETTY_NAME=".count).filter { $0 != "\"" })
        }
        return "unknown"
    }

    /// libslirp can be loaded (the network helper loads it the same way).
    static func hasSlirpLibrary() -> Bool {
        guard let handle = dlopen("libslirp.so.0", RTLD_LAZY | RTLD_LOCAL) else { return false }
        dlclose(handle)
        return true
    }
}
