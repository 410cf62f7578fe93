/// Every check, in the order a user fixes things: ids and namespaces first, then what builds on them.
public struct HostReport: Codable, Sendable {
    public let checks: [CheckResult]

    /// A check failed: something swctr needs does not work (warnings do not count).
    public var hasFailure: Bool { checks.contains { $0.verdict == .failed } }

    public static func run(on host: HostContext) -> HostReport {
        let userNamespaces = UserNamespaceCheck().run(on: host)
        var checks = [IDMapHelperCheck().run(on: host), SubordinateIDCheck().run(on: host), userNamespaces]
        checks.append(OverlayCheck(userNamespacesWork: userNamespaces.verdict != .failed).run(on: host))
        checks.append(StorageFilesystemCheck().run(on: host))
        let others: [any Check] = [DeviceCheck.fuse, DeviceCheck.tun, CgroupCheck(), LingerCheck(), PingGroupCheck(), UnprivilegedPortCheck()]
        checks += others.map { $0.run(on: host) }
        return HostReport(checks: checks)
    }
}
