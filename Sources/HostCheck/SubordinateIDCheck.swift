import Runtime
import SystemSupport

/// /etc/subuid and /etc/subgid: ranges for this user, big enough for images (ids up to 65535)
/// and not shared with another user.
struct SubordinateIDCheck: Check {
    let name = "subordinate ids"
    /// Images use ids up to 65534 (nobody); a range this big holds them all.
    static let wanted: UInt64 = 65536

    /// One line of a subuid/subgid file.
    struct Entry: Equatable {
        let owner: String
        let start: UInt64
        let count: UInt64
        var end: UInt64 { start + count }
        func overlaps(_ other: Entry) -> Bool { start < other.end && other.start < end }
    }

    static func entries(_ text: String) -> [Entry] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count == 3, let start = UInt64(fields[1]), let count = UInt64(fields[2]), count > 0 else { return nil }
            return Entry(owner: String(fields[0]), start: start, count: count)
        }
    }

    func run(on host: HostContext) -> CheckResult {
        evaluate(subuidText: (try? FileSystem.readText("/etc/subuid")) ?? "", subgidText: (try? FileSystem.readText("/etc/subgid")) ?? "", for: host)
    }

    /// The verdict for the files' text (missing files count as empty).
    func evaluate(subuidText: String, subgidText: String, for host: HostContext) -> CheckResult {
        let files = [(path: "/etc/subuid", entries: Self.entries(subuidText)), (path: "/etc/subgid", entries: Self.entries(subgidText))]
        let isMine = { (entry: Entry) in entry.owner == host.userName || entry.owner == String(host.uid) }
        let free = Self.freeRange(avoiding: files.flatMap(\.entries))
        let addFix = "sudo usermod --add-subuids \(free) --add-subgids \(free) \(host.userName)"
        let missing = files.filter { !$0.entries.contains(where: isMine) }.map(\.path)
        if host.uid == 0 { return result(.notApplicable, "running as root: every id is available without subordinate ranges") }
        if !missing.isEmpty {
            return result(.failed, "no entry for \(host.userName) in \(missing.joined(separator: " or ")): containers get a single-id user namespace (only root inside)", fix: addFix)
        }
        var summaries: [String] = []
        for file in files {
            let mine = file.entries.filter(isMine)
            let total = mine.reduce(0) { $0 + $1.count }
            if total < Self.wanted {
                return result(.warning, "\(host.userName) has only \(total) ids in \(file.path): images with ids up to 65535 (e.g. nobody) cannot be unpacked", fix: addFix)
            }
            for range in mine {
                if let other = file.entries.first(where: { !isMine($0) && $0.overlaps(range) }) {
                    return result(.warning, "\(file.path): \(host.userName)'s range \(range.start)-\(range.end - 1) overlaps \(other.owner)'s \(other.start)-\(other.end - 1): their containers can reach each other's files",
                                  fix: "sudo usermod --del-subuids \(range.start)-\(range.end - 1) --del-subgids \(range.start)-\(range.end - 1) \(host.userName) && \(addFix)")
                }
            }
            summaries.append("\(total) \(file.path == "/etc/subuid" ? "uids" : "gids") (" + mine.map { "\($0.start)-\($0.end - 1)" }.joined(separator: ", ") + ")")
        }
        return result(.ok, "\(host.userName) has " + summaries.joined(separator: " and "))
    }

    /// The first range of `wanted` ids from 100000 on that no entry uses, as `START-END`.
    static func freeRange(avoiding entries: [Entry]) -> String {
        var start: UInt64 = 100_000
        while let blocking = entries.first(where: { $0.overlaps(Entry(owner: "", start: start, count: wanted)) }) {
            start = (blocking.end + wanted - 1) / wanted * wanted
        }
        return "\(start)-\(start + wanted - 1)"
    }
}
