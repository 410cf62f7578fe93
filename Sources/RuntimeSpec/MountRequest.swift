/// A mount as the user asked for it (`-v`, `--mount`, `--tmpfs`, or an image's `Volumes`), before
/// named volumes are found or made.
public struct MountRequest: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case bind, volume, tmpfs }

    public var kind: Kind
    /// bind: an absolute host path; volume: a name, or nil for a new anonymous volume; tmpfs: nil.
    public var source: String?
    public var destination: String
    public var readOnly = false
    /// volume: do not copy the image's files into a new, empty volume.
    public var noCopy = false
    /// tmpfs: size and mode options for the kernel (`size=64m,mode=1777`).
    public var tmpfsOptions: [String] = []
    /// tmpfs: noexec, nosuid, nodev unless the user said exec, suid or dev.
    public var noExec = false
    public var noSetuid = false
    public var noDevices = false

    public init(kind: Kind, source: String?, destination: String) {
        self.kind = kind
        self.source = source
        self.destination = destination
    }

    /// Volume names Docker accepts.
    public static func isValidVolumeName(_ name: String) -> Bool {
        func isAlphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        guard let first = name.utf8.first, isAlphanumeric(first), name.utf8.count <= 255 else { return false }
        return name.utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// `-v [SOURCE:]DESTINATION[:OPTIONS]`; a SOURCE starting with / or . is a host path (made
    /// absolute against `currentDirectory`), anything else a volume name.
    public static func parseVolume(_ text: String, currentDirectory: String) throws(MountRequestError) -> MountRequest {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count), !parts.contains(where: \.isEmpty) else { throw .syntax(flag: "-v", text, hint: "use HOSTDIR:CTRDIR[:ro], NAME:CTRDIR or CTRDIR") }
        var request: MountRequest
        if parts.count == 1 {
            request = MountRequest(kind: .volume, source: nil, destination: parts[0])
        } else if parts[0].hasPrefix("/") || parts[0].hasPrefix(".") {
            request = MountRequest(kind: .bind, source: absolute(parts[0], in: currentDirectory), destination: parts[1])
        } else {
            guard isValidVolumeName(parts[0]) else { throw .badVolumeName(parts[0]) }
            request = MountRequest(kind: .volume, source: parts[0], destination: parts[1])
        }
        if parts.count == 3 {
            for option in parts[2].split(separator: ",").map(String.init) {
                switch option {
                case "ro", "readonly": request.readOnly = true
                case "rw": request.readOnly = false
                case "z", "Z": break  // SELinux relabelling: nothing to do without SELinux
                case "nocopy": request.noCopy = true
                case "private", "rprivate": break  // the default propagation
                default: throw .unknownOption(flag: "-v", option, hint: "use ro, rw, z, Z or nocopy")
                }
            }
        }
        try request.check(flag: "-v", text)
        return request
    }

    /// `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly][,volume-nocopy][,tmpfs-size=…][,tmpfs-mode=…]`.
    public static func parseMount(_ text: String, currentDirectory: String) throws(MountRequestError) -> MountRequest {
        var fields: [(String, String?)] = []
        for field in text.split(separator: ",").map(String.init) {
            if let equals = field.firstIndex(of: "=") {
                fields.append((String(field[..<equals]).lowercased(), String(field[field.index(after: equals)...])))
            } else {
                fields.append((field.lowercased(), nil))
            }
        }
        guard let typeText = fields.first(where: { $0.0 == "type" })?.1, let kind = Kind(rawValue: typeText) else {
            throw .syntax(flag: "--mount", text, hint: "say type=bind, type=volume or type=tmpfs")
        }
        var source: String?
        var destination: String?
        var request = MountRequest(kind: kind, source: nil, destination: "")
        func flag(_ value: String?) throws(MountRequestError) -> Bool {
            switch value?.lowercased() {
            case nil, "true", "1": return true
            case "false", "0": return false
            default: throw .syntax(flag: "--mount", text, hint: "boolean options take true or false")
            }
        }
        for (key, value) in fields {
            switch key {
            case "type": continue
            case "source", "src": source = value
            case "target", "destination", "dst": destination = value
            case "readonly", "ro": request.readOnly = try flag(value)
            case "volume-nocopy": request.noCopy = try flag(value)
            case "bind-propagation" where value == "rprivate" || value == "private": continue
            case "consistency": continue
            case "tmpfs-size":
                guard let value, !value.isEmpty else { throw .syntax(flag: "--mount", text, hint: "tmpfs-size takes a size such as 64m") }
                request.tmpfsOptions.append("size=" + value)
            case "tmpfs-mode":
                guard let value, UInt32(value, radix: 8) != nil else { throw .syntax(flag: "--mount", text, hint: "tmpfs-mode takes an octal mode such as 1777") }
                request.tmpfsOptions.append("mode=" + value)
            default:
                throw .unknownOption(flag: "--mount", key, hint: "use type, source, target, readonly, volume-nocopy, tmpfs-size or tmpfs-mode")
            }
        }
        guard let destination, !destination.isEmpty else { throw .syntax(flag: "--mount", text, hint: "say target=CTRDIR") }
        request.destination = destination
        switch kind {
        case .bind:
            guard let source, !source.isEmpty else { throw .syntax(flag: "--mount", text, hint: "a bind mount needs source=HOSTPATH") }
            request.source = absolute(source, in: currentDirectory)
        case .volume:
            if let source, !source.isEmpty {
                guard isValidVolumeName(source) else { throw .badVolumeName(source) }
                request.source = source
            }
        case .tmpfs:
            guard source == nil else { throw .syntax(flag: "--mount", text, hint: "a tmpfs mount takes no source") }
            request.noSetuid = true
            request.noDevices = true
        }
        try request.check(flag: "--mount", text)
        return request
    }

    /// `--tmpfs CTRDIR[:OPTIONS]` (size=, mode=, ro, rw, exec, noexec, suid, nosuid, dev, nodev).
    public static func parseTmpfs(_ text: String) throws(MountRequestError) -> MountRequest {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        var request = MountRequest(kind: .tmpfs, source: nil, destination: parts[0])
        request.noExec = true
        request.noSetuid = true
        request.noDevices = true
        if parts.count == 2 {
            for option in parts[1].split(separator: ",").map(String.init) {
                switch option {
                case "ro": request.readOnly = true
                case "rw": request.readOnly = false
                case "exec": request.noExec = false
                case "noexec": request.noExec = true
                case "suid": request.noSetuid = false
                case "nosuid": request.noSetuid = true
                case "dev": request.noDevices = false
                case "nodev": request.noDevices = true
                default:
                    if option.hasPrefix("size=") || option.hasPrefix("mode=") || option.hasPrefix("nr_inodes=")
                        || option.hasPrefix("uid=") || option.hasPrefix("gid=") {
                        request.tmpfsOptions.append(option)
                    } else {
                        throw .unknownOption(flag: "--tmpfs", option, hint: "use size=, mode=, ro, rw, exec, noexec, suid, nosuid, dev or nodev")
                    }
                }
            }
        }
        try request.check(flag: "--tmpfs", text)
        return request
    }

    private func check(flag: String, _ text: String) throws(MountRequestError) {
        guard destination.hasPrefix("/") else { throw .relativeDestination(flag: flag, destination) }
        if destination.split(separator: "/").isEmpty { throw .rootDestination(flag: flag) }
        if destination.split(separator: "/").contains("..") { throw .syntax(flag: flag, text, hint: "the container path may not contain ..") }
    }

    static func absolute(_ path: String, in directory: String) -> String {
        var components: [Substring] = path.hasPrefix("/") ? [] : directory.split(separator: "/")
        for component in path.split(separator: "/") {
            switch component {
            case ".": continue
            case "..": if !components.isEmpty { components.removeLast() }
            default: components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }
}

public enum MountRequestError: Error, Equatable {
    case syntax(flag: String, String, hint: String)
    case unknownOption(flag: String, String, hint: String)
    case badVolumeName(String)
    case relativeDestination(flag: String, String)
    case rootDestination(flag: String)

    public var message: String {
        switch self {
        case .syntax(let flag, let text, let hint): return "invalid \(flag) \"\(text)\": \(hint)"
        case .unknownOption(let flag, let option, let hint): return "unknown \(flag) option \"\(option)\": \(hint)"
        case .badVolumeName(let name):
            return "invalid volume name \"\(name)\": use letters, digits, _ . - (start with a letter or digit), or a path starting with / or ./ for a bind mount"
        case .relativeDestination(let flag, let path): return "invalid \(flag): the container path \"\(path)\" must be absolute"
        case .rootDestination(let flag): return "invalid \(flag): cannot mount over the container's /"
        }
    }
}

/// A mount as the container's init performs it: host paths known, volumes made.
public struct ContainerMount: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case bind, tmpfs }
    public var kind: Kind
    /// The host path (bind) — for a volume, its data directory.
    public var source: String?
    public var destination: String
    public var readOnly: Bool
    /// Copy what the image has at `destination` into the (empty) source first: a volume's first use.
    public var copyImageContent: Bool
    public var options: [String]
    public var noExec: Bool
    public var noSetuid: Bool
    public var noDevices: Bool

    public init(kind: Kind, source: String?, destination: String, readOnly: Bool, copyImageContent: Bool = false,
                options: [String] = [], noExec: Bool = false, noSetuid: Bool = false, noDevices: Bool = false) {
        self.kind = kind
        self.source = source
        self.destination = destination
        self.readOnly = readOnly
        self.copyImageContent = copyImageContent
        self.options = options
        self.noExec = noExec
        self.noSetuid = noSetuid
        self.noDevices = noDevices
    }
}
