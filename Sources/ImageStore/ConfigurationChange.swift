import FoundationEssentials
import Registry

/// One Dockerfile instruction given to `import --change` or `commit --change` (`CMD ["sh"]`,
/// `ENV A=1 B=2`, `EXPOSE 80/udp`…), parsed and applied to an image's runtime defaults as
/// `docker import` and `docker commit` do.
/// The instruction may be followed by a space or, as Podman also allows, by `=` (`CMD=/bin/sh`).
public struct ConfigurationChange: Sendable, Equatable {
    public enum Instruction: String, CaseIterable, Sendable {
        case cmd = "CMD", entrypoint = "ENTRYPOINT", env = "ENV", workdir = "WORKDIR", user = "USER"
        case expose = "EXPOSE", label = "LABEL", volume = "VOLUME", stopsignal = "STOPSIGNAL"
    }

    public let instruction: Instruction
    /// The instruction's arguments: the command (exec form), `KEY=VALUE` pairs, ports, paths…
    public let values: [String]

    /// `command`: the verb the change was given to, for the message about an unknown instruction.
    public init(parsing text: String, command: String = "import") throws(ImageArchiveError) {
        let trimmed = text.trimmed
        let keyword = trimmed.prefix { $0.isLetter }
        var rest = trimmed.dropFirst(keyword.count)
        if rest.first == "=" { rest = rest.dropFirst() } else if let first = rest.first, !first.isWhitespace {
            throw .invalidChange(text, reason: "expected an instruction such as CMD, ENV or EXPOSE followed by its arguments")
        }
        guard let instruction = Instruction(rawValue: keyword.uppercased()) else {
            let known = Instruction.allCases.map(\.rawValue).joined(separator: ", ")
            throw .invalidChange(text, reason: "\"\(keyword)\" is not an instruction \(command) can apply (use one of \(known))")
        }
        let arguments = String(rest).trimmed
        self.instruction = instruction
        switch instruction {
        case .cmd, .entrypoint:
            if arguments.hasPrefix("[") {
                values = try Self.jsonArray(arguments, change: text)
            } else if arguments.isEmpty {
                throw .invalidChange(text, reason: "\(instruction.rawValue) needs a command")
            } else {
                values = ["/bin/sh", "-c", arguments]
            }
        case .env, .label:
            values = try Self.pairs(arguments, instruction: instruction, change: text)
        case .workdir, .user, .stopsignal:
            guard !arguments.isEmpty else { throw .invalidChange(text, reason: "\(instruction.rawValue) needs a value") }
            values = [try Self.words(arguments, change: text).joined(separator: " ")]
        case .volume:
            values = arguments.hasPrefix("[") ? try Self.jsonArray(arguments, change: text) : try Self.words(arguments, change: text)
            if values.isEmpty || values.contains(where: \.isEmpty) { throw .invalidChange(text, reason: "VOLUME needs one or more paths") }
        case .expose:
            values = try Self.words(arguments, change: text).map { port throws(ImageArchiveError) in try Self.exposedPort(port, change: text) }
            if values.isEmpty { throw .invalidChange(text, reason: "EXPOSE needs one or more ports") }
        }
    }

    /// Applies the change to `configuration`, later changes overriding earlier ones.
    public func apply(to configuration: inout ContainerConfiguration) {
        switch instruction {
        case .cmd: configuration.Cmd = values
        case .entrypoint: configuration.Entrypoint = values
        case .env:
            var environment = configuration.Env ?? []
            for pair in values {
                let key = pair.prefix { $0 != "=" }
                environment.removeAll { $0.prefix { $0 != "=" } == key }
                environment.append(pair)
            }
            configuration.Env = environment
        case .label:
            var labels = configuration.Labels ?? [:]
            for pair in values {
                let key = String(pair.prefix { $0 != "=" })
                labels[key] = String(pair.dropFirst(key.count + 1))
            }
            configuration.Labels = labels
        case .workdir:
            let path = values[0]
            if path.hasPrefix("/") {
                configuration.WorkingDir = path
            } else {
                let base = configuration.WorkingDir ?? "/"
                configuration.WorkingDir = base.hasSuffix("/") ? base + path : base + "/" + path
            }
        case .user: configuration.User = values[0]
        case .stopsignal: configuration.StopSignal = values[0]
        case .expose:
            var ports = configuration.ExposedPorts ?? [:]
            for port in values { ports[port] = EmptyObject() }
            configuration.ExposedPorts = ports
        case .volume:
            var volumes = configuration.Volumes ?? [:]
            for path in values { volumes[path] = EmptyObject() }
            configuration.Volumes = volumes
        }
    }

    private static func jsonArray(_ text: String, change: String) throws(ImageArchiveError) -> [String] {
        do { return try JSONDecoder().decode([String].self, from: Data(text.utf8)) } catch {
            throw .invalidChange(change, reason: "the JSON form must be an array of strings, like [\"/bin/sh\", \"-c\", \"echo hi\"]")
        }
    }

    /// `KEY=VALUE …` (values may be quoted), or the old one-pair form `KEY VALUE WITH SPACES`.
    private static func pairs(_ text: String, instruction: Instruction, change: String) throws(ImageArchiveError) -> [String] {
        let parts = try words(text, change: change)
        guard let first = parts.first else { throw .invalidChange(change, reason: "\(instruction.rawValue) needs KEY=VALUE") }
        if !first.contains("=") {
            guard parts.count >= 2 else { throw .invalidChange(change, reason: "\(instruction.rawValue) needs KEY=VALUE or KEY VALUE") }
            return [first + "=" + parts.dropFirst().joined(separator: " ")]
        }
        for pair in parts where !pair.contains("=") || pair.hasPrefix("=") {
            throw .invalidChange(change, reason: "\"\(pair)\" is not KEY=VALUE")
        }
        return parts
    }

    /// `80`, `53/udp` → `80/tcp`, `53/udp` (as image configurations key them).
    private static func exposedPort(_ text: String, change: String) throws(ImageArchiveError) -> String {
        let pieces = text.split(separator: "/", omittingEmptySubsequences: false)
        let transport = pieces.count > 1 ? pieces[1].lowercased() : "tcp"
        guard pieces.count <= 2, let port = Int(pieces[0]), (1...65535).contains(port), ["tcp", "udp", "sctp"].contains(transport) else {
            throw .invalidChange(change, reason: "\"\(text)\" is not a port (PORT or PORT/tcp, PORT/udp, PORT/sctp)")
        }
        return "\(port)/\(transport)"
    }

    /// Splits at unquoted white space; "double" quotes (with \ escapes) and 'single' quotes group.
    static func words(_ text: String, change: String) throws(ImageArchiveError) -> [String] {
        var result: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for character in text {
            if escaped {
                current.append(character); escaped = false; inWord = true
            } else if character == "\\" && quote != "'" {
                escaped = true; inWord = true
            } else if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character; inWord = true
            } else if character.isWhitespace {
                if inWord { result.append(current); current = ""; inWord = false }
            } else {
                current.append(character); inWord = true
            }
        }
        if quote != nil || escaped { throw .invalidChange(change, reason: "a quote or backslash is not closed") }
        if inWord { result.append(current) }
        return result
    }
}
