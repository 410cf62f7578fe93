import CLinux
import FoundationEssentials
import Runtime
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// Which storage driver new containers get, and why: `--storage-driver`, else
/// `$SWCTR_STORAGE_DRIVER`, else `driver` in `~/.config/swctr/storage.conf`, else what a probe of
/// this host found (kernel overlay if it works for this user on the store's filesystem, else the
/// FUSE overlay, else full copies). The probe's answer is kept in the store and made again when the
/// kernel or the store's filesystem changes.
public struct StorageDriverChoice: Codable, Sendable, Equatable {
    public var driver: StorageDriver
    /// One line: why this driver.
    public var reason: String
    /// "flag", "environment", "configuration" or "probe".
    public var source: String
}

public enum StorageDriverError: Error, UserFacingError {
    case unknownDriver(String, from: String)
    case configuration(path: String, line: Int, reason: String)

    public var userMessage: String {
        switch self {
        case .unknownDriver(let name, let source):
            return "unknown storage driver \"\(name)\" (from \(source)): use overlay, fuse-overlay or copy"
        case .configuration(let path, let line, let reason):
            return "\(path):\(line): \(reason)"
        }
    }
}

public enum StorageDriverSelection {
    public static let environmentVariable = "SWCTR_STORAGE_DRIVER"
    static let rememberedFile = "storage-driver"
    static let legacyRememberedFile = "storage-driver.json"

    /// A driver's name, with the names Podman and fuse-overlayfs users know as aliases.
    public static func parse(_ name: String) -> StorageDriver? {
        switch name.lowercased() {
        case "overlay", "overlay2", "overlayfs": return .overlay
        case "fuse-overlay", "fuse-overlayfs", "fuse": return .fuseOverlay
        case "copy", "vfs": return .copy
        default: return nil
        }
    }

    /// The driver for a new container.
    public static func choose(flag: String?, environment: [String: String], directories: UserDirectories) throws(StorageDriverError) -> StorageDriverChoice {
        if let flag {
            guard let driver = parse(flag) else { throw .unknownDriver(flag, from: "--storage-driver") }
            return StorageDriverChoice(driver: driver, reason: "--storage-driver \(flag)", source: "flag")
        }
        if let value = environment[environmentVariable], !value.isEmpty {
            guard let driver = parse(value) else { throw .unknownDriver(value, from: "$\(environmentVariable)") }
            return StorageDriverChoice(driver: driver, reason: "$\(environmentVariable)=\(value)", source: "environment")
        }
        let configuration = directories.config + "/storage.conf"
        if let (name, line) = try configuredDriver(configuration) {
            guard let driver = parse(name) else { throw .unknownDriver(name, from: "\(configuration):\(line)") }
            return StorageDriverChoice(driver: driver, reason: "driver = \"\(name)\" in \(configuration)", source: "configuration")
        }
        return probed(storeRoot: directories.data)
    }

    /// `driver = "NAME"` in storage.conf (TOML; top level or under [storage], as Podman's file has it).
    static func configuredDriver(_ path: String) throws(StorageDriverError) -> (String, Int)? {
        guard let text = try? FileSystem.readText(path) else { return nil }
        var section = ""
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?.trimmed ?? ""
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                section = String(line.filter { $0 != "[" && $0 != "]" }).trimmed
                continue
            }
            let parts = line.split(separator: "=", maxSplits: 1).map { String($0).trimmed }
            guard parts.count == 2, parts[0] == "driver", section.isEmpty || section == "storage" else { continue }
            let value = parts[1]
            guard value.count >= 2, value.first == "\"", value.last == "\"" else {
                throw .configuration(path: path, line: index + 1, reason: "driver must be a quoted string, as driver = \"fuse-overlay\"")
            }
            return (String(value.dropFirst().dropLast()), index + 1)
        }
        return nil
    }

    /// What the store remembers from the last probe, if it still applies (same kernel, same
    /// filesystem under the store); else a new probe, remembered.
    public static func probed(storeRoot: String) -> StorageDriverChoice {
        let key = hostKey(storeRoot: storeRoot)
        let file = storeRoot + "/" + rememberedFile
        if let text = try? FileSystem.readText(file), let remembered = Remembered(parsing: text), remembered.host == key {
            return remembered.choice
        }
        let choice = probe(storeRoot: storeRoot)
        if FileSystem.isDirectory(storeRoot) {
            try? FileSystem.writeAtomically(file, Remembered(host: key, choice: choice).text, mode: 0o600)
            // The JSON file of earlier versions, superseded.
            unlink(storeRoot + "/" + legacyRememberedFile)
        }
        return choice
    }

    /// Forgets the remembered probe (the next container probes again).
    public static func forget(storeRoot: String) {
        unlink(storeRoot + "/" + rememberedFile)
        unlink(storeRoot + "/" + legacyRememberedFile)
    }

    /// The probe's answer as the store keeps it: one `key value` line each for the host key, the
    /// driver, the source and the reason. Plain lines rather than JSON: every `run` reads this
    /// file, and it was the first JSON a run decoded, which paid Foundation's first-use costs
    /// (about 0.25 ms a run; docs/runtime.md).
    struct Remembered: Equatable {
        var host: String
        var choice: StorageDriverChoice

        /// Each value on its line: a line break in one (an error's text in the reason) becomes a space.
        var text: String {
            func line(_ value: String) -> String { value.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).concatenated(separator: " ") }
            return "host \(line(host))\ndriver \(choice.driver.rawValue)\nsource \(line(choice.source))\nreason \(line(choice.reason))\n"
        }

        /// nil unless all four lines are there and the driver is one swctr knows.
        init?(parsing text: String) {
            var fields: [String: String] = [:]
            for line in text.split(separator: "\n") {
                guard let space = line.firstIndex(of: " ") else { continue }
                fields[String(line[..<space])] = String(line[line.index(after: space)...])
            }
            guard let host = fields["host"], let name = fields["driver"], let driver = StorageDriver(rawValue: name),
                  let source = fields["source"], let reason = fields["reason"] else { return nil }
            self.init(host: host, choice: StorageDriverChoice(driver: driver, reason: reason, source: source))
        }

        init(host: String, choice: StorageDriverChoice) {
            self.host = host
            self.choice = choice
        }
    }

    static func hostKey(storeRoot: String) -> String {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let filesystem = filesystemName(storeRoot)
        return "\(release) \(filesystem)"
    }

    /// Tries the kernel overlay, then FUSE, each the way a container would use it.
    static func probe(storeRoot: String) -> StorageDriverChoice {
        let host = HostContext.current(directories: UserDirectories(data: storeRoot, runtime: "", config: ""))
        let parent = FileSystem.isDirectory(storeRoot + "/tmp") ? storeRoot + "/tmp" : host.existingStoreAncestor
        let filesystem = filesystemName(parent)
        let overlayFailure: String
        if let scratch = try? OverlayTrial.prepare(in: parent) {
            defer { try? FileSystem.removeTree(scratch) }
            if let failure = NamespaceTrial.run(.overlay(scratch: scratch), namespaces: [.user, .mount], idMaps: NamespaceTrial.singleIDMap(for: host)) {
                overlayFailure = failure
            } else {
                return StorageDriverChoice(driver: .overlay, reason: "probed: the kernel overlay (userxattr) works on the store's \(filesystem)", source: "probe")
            }
        } else {
            overlayFailure = "cannot make a scratch directory in \(parent)"
        }
        if let scratch = try? OverlayTrial.prepare(in: parent) {
            defer { try? FileSystem.removeTree(scratch) }
            if let failure = NamespaceTrial.run(.fuse(scratch: scratch), namespaces: [.user, .mount], idMaps: NamespaceTrial.singleIDMap(for: host)) {
                return StorageDriverChoice(driver: .copy, reason: "probed: neither the kernel overlay (\(overlayFailure)) nor FUSE (\(failure)) works: full copies", source: "probe")
            }
        }
        return StorageDriverChoice(driver: .fuseOverlay, reason: "probed: the kernel overlay does not work on the store's \(filesystem) (\(overlayFailure)); FUSE does", source: "probe")
    }
}

/// "ext4", "xfs", "tmpfs"… for the filesystem holding `path`.
func filesystemName(_ path: String) -> String {
    let magic = Int(swctr_filesystem_type(path))
    if magic < 0 { return "unknown filesystem" }
    return StorageFilesystemCheck.names[magic] ?? "filesystem 0x" + String(magic, radix: 16)
}
