import Registry

/// What the user asked for on the command line, before it meets the image.
public struct ProcessOptions: Sendable {
    public var command: [String] = []
    /// nil: the image's; "": none; else replaces the image's entrypoint (as `docker run --entrypoint`).
    public var entrypoint: String?
    public var environment: [String] = []
    public var workingDirectory: String?
    public var user: String?
    public var terminal = false
    public var hostname: String?

    public init() {}
}

public enum ProcessSpecError: Error, Equatable {
    case noCommand
    case invalidEnvironment(String)
    case invalidWorkingDirectory(String)

    public var userMessage: String {
        switch self {
        case .noCommand:
            return "no command given and the image has none (no Entrypoint or Cmd) — add one after the image name"
        case .invalidEnvironment(let entry):
            return "invalid environment variable \"\(entry)\": expected NAME=VALUE with a non-empty NAME"
        case .invalidWorkingDirectory(let path):
            return "working directory \"\(path)\" is not an absolute path"
        }
    }
}

/// Combines an image's config with the flags the way `docker run` does.
public enum ProcessSpecBuilder {
    public static let defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// - Parameter hostEnvironment: where `-e NAME` (no value) takes its value from.
    public static func build(image: ContainerConfiguration?, options: ProcessOptions, hostname: String,
                             hostEnvironment: [String: String]) throws(ProcessSpecError) -> ProcessSpec {
        let entrypoint: [String]
        var command: [String]
        if let override = options.entrypoint {
            entrypoint = override.isEmpty ? [] : [override]
            command = options.command  // a new entrypoint drops the image's Cmd, as in Docker
        } else {
            entrypoint = image?.Entrypoint ?? []
            command = options.command.isEmpty ? (image?.Cmd ?? []) : options.command
        }
        if entrypoint.isEmpty && command.isEmpty { throw .noCommand }
        command = entrypoint + command

        var environment: [(String, String)] = []
        func set(_ name: String, _ value: String) {
            if let index = environment.firstIndex(where: { $0.0 == name }) {
                environment[index].1 = value
            } else {
                environment.append((name, value))
            }
        }
        for entry in image?.Env ?? [] {
            let (name, value) = split(entry)
            if !name.isEmpty { set(name, value ?? "") }
        }
        if !environment.contains(where: { $0.0 == "PATH" }) { set("PATH", String(defaultPath.dropFirst(5))) }
        set("HOSTNAME", hostname)
        if options.terminal && !environment.contains(where: { $0.0 == "TERM" }) { set("TERM", "xterm") }
        for entry in options.environment {
            let (name, value) = split(entry)
            if name.isEmpty || name.contains("\0") { throw .invalidEnvironment(entry) }
            if let value {
                set(name, value)
            } else if let hostValue = hostEnvironment[name] {
                set(name, hostValue)  // `-e NAME` passes the host's value, and nothing when unset
            }
        }

        let workingDirectory = options.workingDirectory ?? image?.WorkingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        if !workingDirectory.hasPrefix("/") { throw .invalidWorkingDirectory(workingDirectory) }
        return ProcessSpec(
            arguments: command,
            environment: environment.map { "\($0.0)=\($0.1)" },
            workingDirectory: workingDirectory,
            user: options.user ?? image?.User ?? "",
            terminal: options.terminal)
    }

    static func split(_ entry: String) -> (String, String?) {
        guard let equals = entry.firstIndex(of: "=") else { return (entry, nil) }
        return (String(entry[..<equals]), String(entry[entry.index(after: equals)...]))
    }
}
