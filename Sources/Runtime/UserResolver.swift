import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// The ids a process runs as, resolved from a `-u` value and the container's passwd/group files.
public struct ResolvedUser: Equatable, Sendable {
    public var uid: UInt32
    public var gid: UInt32
    public var supplementaryGroups: [UInt32]
    public var home: String
}

public enum UserResolutionError: Error, Equatable {
    case unknownUser(String)
    case unknownGroup(String)

    public var message: String {
        switch self {
        case .unknownUser(let name): return "user \"\(name)\" is not in the container's /etc/passwd (use a numeric uid, or an image that has the user)"
        case .unknownGroup(let name): return "group \"\(name)\" is not in the container's /etc/group (use a numeric gid)"
        }
    }
}

/// Parses `user[:group]` the way Docker does against the image's /etc/passwd and /etc/group text.
public enum UserResolver {
    public static func resolve(_ spec: String, passwd: String?, group: String?,
                               additionalGroups: [String] = []) throws(UserResolutionError) -> ResolvedUser {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let userPart = parts.first ?? ""
        let groupPart = parts.count > 1 ? parts[1] : nil
        let users = (passwd ?? "").split(separator: "\n").map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }.filter { $0.count >= 7 }
        let groups = (group ?? "").split(separator: "\n").map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }.filter { $0.count >= 4 }

        var uid: UInt32 = 0
        var gid: UInt32 = 0
        var home = "/"
        var name: String?
        if userPart.isEmpty {
            if let root = users.first(where: { $0[2] == "0" }) { home = root[5]; name = root[0] } else { home = "/root" }
        } else if let numeric = UInt32(userPart) {
            uid = numeric
            if let entry = users.first(where: { UInt32($0[2]) == numeric }) {
                gid = UInt32(entry[3]) ?? 0
                home = entry[5]
                name = entry[0]
            }
        } else if let entry = users.first(where: { $0[0] == userPart }) {
            uid = UInt32(entry[2]) ?? 0
            gid = UInt32(entry[3]) ?? 0
            home = entry[5]
            name = entry[0]
        } else {
            throw .unknownUser(userPart)
        }
        if let groupPart, !groupPart.isEmpty {
            if let numeric = UInt32(groupPart) {
                gid = numeric
            } else if let entry = groups.first(where: { $0[0] == groupPart }) {
                gid = UInt32(entry[2]) ?? 0
            } else {
                throw .unknownGroup(groupPart)
            }
        }
        var supplementary: [UInt32] = []
        if let name, groupPart == nil || groupPart!.isEmpty {
            for entry in groups where entry[3].split(separator: ",").contains(Substring(name)) {
                if let id = UInt32(entry[2]), id != gid, !supplementary.contains(id) { supplementary.append(id) }
            }
        }
        for extra in additionalGroups {
            let id: UInt32
            if let numeric = UInt32(extra) {
                id = numeric
            } else if let entry = groups.first(where: { $0[0] == extra }), let number = UInt32(entry[2]) {
                id = number
            } else {
                throw .unknownGroup(extra)
            }
            if !supplementary.contains(id) { supplementary.append(id) }
        }
        return ResolvedUser(uid: uid, gid: gid, supplementaryGroups: supplementary, home: home.isEmpty ? "/" : home)
    }
}
