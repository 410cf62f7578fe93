import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// The filesystem the store is on: NFS and other network or stacked filesystems cannot hold
/// overlay upper layers with user xattrs and subordinate owners.
struct StorageFilesystemCheck: Check {
    let name = "storage filesystem"

    /// statfs magic numbers (linux/magic.h) worth naming.
    static let names: [Int: String] = [
        0xEF53: "ext4", 0x5846_5342: "xfs", 0x9123_683E: "btrfs", 0x2FC1_2FC1: "zfs", 0x0102_1994: "tmpfs",
        0x6969: "nfs", 0xFF53_4D42: "cifs", 0xFE53_4D42: "smb2", 0xF15F: "ecryptfs", 0x794C_7630: "overlay",
        0x6573_5546: "fuse", 0x0102_0304: "9p",
    ]
    static let unusable: Set<String> = ["nfs", "cifs", "smb2", "ecryptfs", "9p"]

    func run(on host: HostContext) -> CheckResult {
        let path = host.existingStoreAncestor
        let magic = Int(swctr_filesystem_type(path))
        guard magic >= 0 else {
            return result(.failed, "cannot statfs \(path): \(String(cString: strerror(errno)))", fix: "mkdir -p \(host.storeRoot)")
        }
        let type = Self.names[magic] ?? "filesystem 0x" + String(magic, radix: 16)
        let movedStore = "/var/tmp/\(host.userName)-swctr"
        if Self.unusable.contains(type) {
            return result(.failed, "the store (\(host.storeRoot)) is on \(type): overlay upper layers and subordinate owners do not work there",
                          fix: "mkdir -p \(movedStore) && rm -rf \(host.storeRoot) && ln -s \(movedStore) \(host.storeRoot)")
        }
        switch type {
        case "overlay", "fuse":
            return result(.warning, "the store (\(host.storeRoot)) is on \(type) (inside a container?): a kernel overlay on it may not mount",
                          fix: "mkdir -p \(movedStore) && rm -rf \(host.storeRoot) && ln -s \(movedStore) \(host.storeRoot)")
        case "tmpfs":
            return result(.ok, "the store (\(host.storeRoot)) is on tmpfs: images and containers are lost at reboot")
        default:
            return result(.ok, "the store (\(host.storeRoot)) is on \(type)")
        }
    }
}
