// Runtime owns starting a container: the user namespace handshake and id maps, the init's mounts,
// pivot_root, user switch and execve, and the parent's side while the container runs.
import CNamespaces
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// One line of /proc/PID/uid_map or gid_map.
public struct IDMapping: Codable, Equatable, Sendable {
    public var containerID: UInt32
    public var hostID: UInt32
    public var size: UInt32

    public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
        self.containerID = containerID
        self.hostID = hostID
        self.size = size
    }
}

/// A range from /etc/subuid or /etc/subgid.
public struct SubordinateRange: Equatable, Sendable {
    public var start: UInt32
    public var count: UInt32

    /// The ranges for a user (by name or numeric id) in a subuid/subgid file's text.
    public static func parse(_ text: String, user: String, id: UInt32) -> [SubordinateRange] {
        var ranges: [SubordinateRange] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count == 3, fields[0] == user || fields[0] == String(id),
                  let start = UInt32(fields[1]), let count = UInt32(fields[2]), count > 0 else { continue }
            ranges.append(SubordinateRange(start: start, count: count))
        }
        return ranges
    }
}

/// How the container's ids map to the host's, and how the maps get written.
public struct IDMapPlan: Equatable, Sendable {
    public enum Writer: Equatable, Sendable {
        /// newuidmap/newgidmap (setuid helpers that check /etc/subuid and /etc/subgid).
        case helpers(newuidmap: String, newgidmap: String)
        /// The parent writes the maps itself: a single id, or anything when it is root.
        case direct
    }

    public var uidMappings: [IDMapping]
    public var gidMappings: [IDMapping]
    public var writer: Writer
    /// Said once on stderr when the plan is a fallback.
    public var warning: String?

    /// Only the user's own id is mapped: files cannot get other owners.
    public var isSingleID: Bool { uidMappings.count == 1 && uidMappings[0].size == 1 }

    /// The plan for the current user: root of the container is the user, ids 1… are the user's
    /// subordinate ranges in order; a single-id map (with a warning) when there are none.
    public static func forCurrentUser(
        subuidText: String?, subgidText: String?, userName: String, uid: UInt32, gid: UInt32,
        newuidmap: String?, newgidmap: String?
    ) -> IDMapPlan {
        if uid == 0 {
            let all = [IDMapping(containerID: 0, hostID: 0, size: UInt32.max)]
            return IDMapPlan(uidMappings: all, gidMappings: all, writer: .direct, warning: nil)
        }
        let single = IDMapPlan(
            uidMappings: [IDMapping(containerID: 0, hostID: uid, size: 1)],
            gidMappings: [IDMapping(containerID: 0, hostID: gid, size: 1)],
            writer: .direct, warning: nil)
        let subuids = subuidText.map { SubordinateRange.parse($0, user: userName, id: uid) } ?? []
        let subgids = subgidText.map { SubordinateRange.parse($0, user: userName, id: uid) } ?? []
        let fix = "sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 \(userName)"
        guard !subuids.isEmpty, !subgids.isEmpty else {
            var plan = single
            plan.warning = "no subordinate ids for \(userName) in /etc/subuid or /etc/subgid: running with a single-id user namespace (only root exists inside; files of other owners cannot be kept) — to fix: \(fix)"
            return plan
        }
        guard let newuidmap, let newgidmap else {
            var plan = single
            plan.warning = "newuidmap/newgidmap not found: running with a single-id user namespace (only root exists inside; files of other owners cannot be kept) — to fix: sudo apt-get install uidmap"
            return plan
        }
        func mappings(own: UInt32, ranges: [SubordinateRange]) -> [IDMapping] {
            var result = [IDMapping(containerID: 0, hostID: own, size: 1)]
            var next: UInt32 = 1
            for range in ranges {
                result.append(IDMapping(containerID: next, hostID: range.start, size: range.count))
                next &+= range.count
            }
            return result
        }
        return IDMapPlan(
            uidMappings: mappings(own: uid, ranges: subuids),
            gidMappings: mappings(own: gid, ranges: subgids),
            writer: .helpers(newuidmap: newuidmap, newgidmap: newgidmap), warning: nil)
    }

    /// `--userns=keep-id`: this plan with the user's own ids appearing as themselves inside
    /// (uid → uid, gid → gid) and container id 0 taking the subordinate id that id had, so every
    /// other id keeps its place and files unpacked for the plain plan keep their owners — except
    /// the image's root-owned files, which appear owned by the user.
    public func keepingIDs(uid: UInt32, gid: UInt32) throws(RuntimeError) -> IDMapPlan {
        guard case .helpers = writer, !isSingleID else {
            throw .unsupported("--userns=keep-id needs subordinate ids and newuidmap/newgidmap (see `swctr doctor`)")
        }
        func swapped(_ mappings: [IDMapping], own: UInt32) throws(RuntimeError) -> [IDMapping] {
            guard own != 0 else { return mappings }
            var result: [IDMapping] = []
            var found = false
            for mapping in mappings {
                if mapping.containerID == 0 && mapping.size == 1 {
                    result.append(IDMapping(containerID: own, hostID: mapping.hostID, size: 1))
                    continue
                }
                let end = UInt64(mapping.containerID) + UInt64(mapping.size)
                guard own >= mapping.containerID && UInt64(own) < end else { result.append(mapping); continue }
                found = true
                let before = own - mapping.containerID
                if before > 0 { result.append(IDMapping(containerID: mapping.containerID, hostID: mapping.hostID, size: before)) }
                result.append(IDMapping(containerID: 0, hostID: mapping.hostID + before, size: 1))
                let after = mapping.size - before - 1
                if after > 0 { result.append(IDMapping(containerID: own + 1, hostID: mapping.hostID + before + 1, size: after)) }
            }
            guard found else {
                throw .unsupported("--userns=keep-id: id \(own) is beyond your subordinate id range; ask for a range of at least \(UInt64(own) + 1) ids in /etc/subuid and /etc/subgid")
            }
            return result
        }
        var plan = self
        plan.uidMappings = try swapped(uidMappings, own: uid)
        plan.gidMappings = try swapped(gidMappings, own: gid)
        return plan
    }

    /// The plan for the user running swctr, from the host's files.
    public static func current() -> IDMapPlan {
        let uid = getuid()
        let gid = getgid()
        let name = getpwuid(uid).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? String(uid)
        return forCurrentUser(
            subuidText: try? FileSystem.readText("/etc/subuid"), subgidText: try? FileSystem.readText("/etc/subgid"),
            userName: name, uid: uid, gid: gid,
            newuidmap: ChildProcess.findExecutable("newuidmap"), newgidmap: ChildProcess.findExecutable("newgidmap"))
    }

    /// The text of the file in which swctr remembers its helpers and maps (`id-map-helpers` in
    /// the runtime directory, see `SWCTR_ID_MAP_HELPERS_FILE` in cnamespaces.h): the next
    /// `swctr run`'s constructor starts the helpers from it on its early holder before Swift
    /// runs, and they are used if this text is what the run would write. The last line is
    /// `sources`, what `current()` made the plan from (`currentSources()`): a run whose sources
    /// are the same takes the plan from the file (`init?(remembered:sources:)`) instead of
    /// reading /etc/subuid, /etc/subgid and the user database and searching for the helpers
    /// (0.17 ms). nil when no helper writes the maps.
    public func rememberedHelpersText(sources: String) -> String? {
        guard case .helpers(let newuidmap, let newgidmap) = writer else { return nil }
        func numbers(_ maps: [IDMapping]) -> String {
            maps.map { "\($0.containerID) \($0.hostID) \($0.size)" }.concatenated(separator: " ")
        }
        return Self.rememberedHeader + "\n\(newuidmap)\n\(numbers(uidMappings))\n\(newgidmap)\n\(numbers(gidMappings))\nsources \(sources)\n"
    }

    static let rememberedHeader = "swctr id-map helpers 2"

    /// "0 1000 1 1 100000 65536" as mappings; nil unless whole triples of numbers.
    fileprivate static func mappings(_ line: String) -> [IDMapping]? {
        let numbers = line.utf8.split(separator: UInt8(ascii: " ")).map { UInt32(String(decoding: $0, as: UTF8.self)) }
        guard !numbers.isEmpty, numbers.count % 3 == 0, numbers.allSatisfy({ $0 != nil }) else { return nil }
        return stride(from: 0, to: numbers.count, by: 3).map { IDMapping(containerID: numbers[$0]!, hostID: numbers[$0 + 1]!, size: numbers[$0 + 2]!) }
    }

    /// What `current()` works the plan out from, as a hash: the user's ids, the helpers' search
    /// path, and the identity (device, inode, size, modification and change times) of
    /// /etc/subuid, /etc/subgid, /etc/passwd and of each directory searched (a helper put in or
    /// taken out of one changes its times). Equal sources give an equal plan.
    public static func currentSources() -> String {
        // FNV-1a, 64 bits, over the raw values (no text is formatted: the first use of generic
        // string interpolation costs a scan of the binary's conformances).
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix<T>(_ value: T) {
            withUnsafeBytes(of: value) { bytes in
                for byte in bytes {
                    hash ^= UInt64(byte)
                    hash &*= 0x0000_0100_0000_01b3
                }
            }
        }
        func mix(_ text: String.UTF8View) {
            for byte in text {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01b3
            }
            mix(UInt8(0))
        }
        func mixIdentity(_ path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return mix(UInt8(0)) }
            mix(UInt8(1))
            for value in [UInt64(info.st_dev), UInt64(info.st_ino), UInt64(bitPattern: Int64(info.st_size)),
                          UInt64(bitPattern: Int64(info.st_mtim.tv_sec)), UInt64(info.st_mtim.tv_nsec),
                          UInt64(bitPattern: Int64(info.st_ctim.tv_sec)), UInt64(info.st_ctim.tv_nsec)] {
                mix(value)
            }
        }
        mix(getuid())
        mix(getgid())
        let searchPath = ChildProcess.executableSearchPath()
        mix(searchPath.utf8)
        for file in ["/etc/subuid", "/etc/subgid", "/etc/passwd"] { mixIdentity(file) }
        for directory in searchPath.utf8.split(separator: UInt8(ascii: ":")) { mixIdentity(String(decoding: directory, as: UTF8.self)) }
        let digits = Array("0123456789abcdef".utf8)
        var hex = [UInt8](repeating: 0, count: 16)
        for index in 0..<16 { hex[index] = digits[Int((hash >> UInt64(60 - 4 * index)) & 0xf)] }
        return "fnv1a64:" + String(decoding: hex, as: UTF8.self)
    }

    /// Remembers `text` (`rememberedHelpersText(sources:)`) for the next runs, or forgets what was
    /// remembered (nil). Best effort: without the file, runs start the helpers themselves.
    public static func rememberHelpers(_ text: String?, directories: UserDirectories = .current()) {
        guard let runtime = try? directories.prepareRuntimeDirectory() else { return }
        let path = runtime + "/" + rememberedHelpersFile
        if let text {
            try? FileSystem.writeAtomically(path, text, mode: 0o600, durable: false)
        } else {
            unlink(path)
        }
    }

    static let rememberedHelpersFile = SWCTR_ID_MAP_HELPERS_FILE

    /// Writes the maps of the user namespace that `pid` is in.
    public func apply(to pid: ProcessID) throws(RuntimeError) {
        try beginApplying(to: pid).finish()
    }

    /// Starts writing the maps of `pid` (a process in a new user namespace, still unmapped): the
    /// helpers run while the caller goes on; `finish()` waits for them and reports a failure.
    public func beginApplying(to pid: ProcessID) -> PendingIDMaps {
        switch writer {
        case .helpers(let newuidmap, let newgidmap):
            // Both at once: they write different files of the same process.
            let programs = [(newuidmap, uidMappings), (newgidmap, gidMappings)].map { tool, maps in
                (path: tool, arguments: [tool, String(pid.rawValue)] + maps.flatMap { [String($0.containerID), String($0.hostID), String($0.size)] })
            }
            return PendingIDMaps(state: .helpers(ChildProcess.startConcurrently(programs), tools: programs.map(\.path)))
        case .direct:
            let base = "/proc/\(pid.rawValue)/"
            func text(_ maps: [IDMapping]) -> String { maps.map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.concatenated() }
            do {
                if getuid() != 0 { try writeProcFile(base + "setgroups", "deny") }
                try writeProcFile(base + "gid_map", text(gidMappings))
                try writeProcFile(base + "uid_map", text(uidMappings))
            } catch {
                return PendingIDMaps(state: .done(.failure(.idMapping(tool: "uid_map", output: error.description))))
            }
            return PendingIDMaps(state: .done(.success(())))
        }
    }

    private func writeProcFile(_ path: String, _ text: String) throws(SystemCallError) {
        let fd = try FileDescriptor.open(path, O_WRONLY)
        defer { fd.close() }
        try fd.writeAll(text)
    }
}

extension IDMapPlan {
    /// The plan a remembered text (`rememberedHelpersText(sources:)`) names, if it was written
    /// from `sources`; nil if not, or if the text is not one swctr writes.
    public init?(remembered text: [UInt8], sources: String) {
        let lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard lines.count == 7, lines[0] == Self.rememberedHeader, lines[6].isEmpty, lines[5] == "sources " + sources,
              lines[1].hasPrefix("/"), lines[3].hasPrefix("/"),
              let uids = Self.mappings(lines[2]), let gids = Self.mappings(lines[4]) else { return nil }
        self.init(uidMappings: uids, gidMappings: gids, writer: .helpers(newuidmap: lines[1], newgidmap: lines[3]), warning: nil)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return String(slice).replacingNewlines()
    }

    func replacingNewlines() -> String { split(separator: "\n").joined(separator: "; ") }
}

/// Id maps being written by `IDMapPlan.beginApplying(to:)`.
public final class PendingIDMaps {
    enum State {
        case helpers(ConcurrentPrograms, tools: [String])
        case done(Result<Void, RuntimeError>)
    }
    private var state: State

    init(state: State) { self.state = state }

    /// Joins the thread spawning the helpers (they are spawned, not finished), so that this
    /// process may fork without exec.
    func settleSpawning() {
        if case .helpers(let programs, _) = state { programs.settle() }
    }

    /// Waits until the maps are written; throws what kept them from it (the helper's own words).
    public func finish() throws(RuntimeError) {
        if case .helpers(let programs, let tools) = state {
            let outcome: Result<Void, RuntimeError>
            do {
                let results = try programs.wait()
                if let (tool, result) = zip(tools, results).first(where: { $0.1.status != .exited(0) }) {
                    outcome = .failure(.idMapping(tool: tool, output: result.output.trimmingWhitespace()))
                    // Whatever the maps came from, the next run works them out afresh.
                    IDMapPlan.rememberHelpers(nil)
                } else {
                    outcome = .success(())
                }
            } catch {
                outcome = .failure(.idMapping(tool: tools.first ?? "newuidmap", output: error.description))
            }
            state = .done(outcome)
        }
        guard case .done(let outcome) = state else { return }
        try outcome.get()
    }
}
