/// `run`'s common argument lists parsed without swift-argument-parser.
///
/// swift-argument-parser builds `run`'s definition by reflecting on its 50-odd options three times
/// per parse (about 2 ms at every start, more than the rest of the process's set-up before the
/// container's fork). An argument list made only of the options below, in the forms below, is
/// parsed here instead; anything else (another option, `--help`, a value that looks like an
/// option, `--`, a short option with its value attached, a value that `validate()` refuses) returns
/// nil and goes to swift-argument-parser, which stays the definition of the command line and gives
/// every message a user sees. `RunDirectParsingTests` checks that both parses give the same `Run`
/// for every option here and in each form.
extension Run {
    /// nil unless `arguments` (without the program's name) are a `run` this parse covers.
    static func parsedDirectly(_ arguments: [String]) -> Run? {
        guard arguments.first == "run" else { return nil }
        var run = Run()
        run.detach = false
        var options = CreateOptions.unset()
        var index = 1
        func value(attached: Substring?) -> String? {
            if let attached { return String(attached) }
            guard index + 1 < arguments.count else { return nil }
            let next = arguments[index + 1]
            // swift-argument-parser does not take a value that could be an option.
            guard !next.hasPrefix("-") else { return nil }
            index += 1
            return next
        }
        func apply(_ option: DirectRunOption, attached: Substring?) -> Bool {
            switch option {
            case .detach, .flag:
                guard attached == nil else { return false }
                if case .flag(let set) = option { set(&options) } else { run.detach = true }
            case .value(let set):
                guard let given = value(attached: attached) else { return false }
                set(&options, given)
            }
            return true
        }
        while index < arguments.count {
            let argument = arguments[index]
            guard argument.hasPrefix("-"), argument != "-" else { break }
            if argument.hasPrefix("--") {
                let equals = argument.firstIndex(of: "=")
                let name = equals.map { argument[..<$0] } ?? Substring(argument)
                guard let option = DirectRunOption.named(name),
                      apply(option, attached: equals.map { argument[argument.index(after: $0)...] })
                else { return nil }
            } else if argument.count == 2 {
                guard let option = DirectRunOption.named(Substring(argument)), apply(option, attached: nil) else { return nil }
            } else {
                // One-letter flags together (-it); a one-letter option with its value attached is left to swift-argument-parser.
                for letter in argument.dropFirst() {
                    guard let option = DirectRunOption.named("-" + String(letter)), option.isFlag, apply(option, attached: nil)
                    else { return nil }
                }
            }
            index += 1
        }
        // The image, then the command: everything after the image is the container's.
        guard index < arguments.count, !arguments[index].hasPrefix("-") else { return nil }
        run.image = arguments[index]
        run.command = Array(arguments[(index + 1)...])
        guard !run.command.contains("--") else { return nil }
        run.options = options
        // A value the command refuses is reported by swift-argument-parser, with its usage line.
        do {
            try options.validate()
            try run.validate()
        } catch {
            return nil
        }
        return run
    }
}

/// An option the direct parse of `run` knows, and where its value goes.
enum DirectRunOption: Sendable {
    case detach
    case flag(@Sendable (inout CreateOptions) -> Void)
    /// Sets the option, or adds to it for one that can be given more than once.
    case value(@Sendable (inout CreateOptions, String) -> Void)

    var isFlag: Bool {
        switch self {
        case .detach, .flag: true
        case .value: false
        }
    }

    static func named(_ name: Substring) -> DirectRunOption? {
        all.first { $0.name == name }?.option
    }

    /// By every name the option has in `Run` and `CreateOptions`. Closures rather than key
    /// paths: a key path is an object made at run time, and this is read at every start.
    static let all: [(name: String, option: DirectRunOption)] = [
        ("-d", .detach), ("--detach", .detach),
        ("--rm", .flag { $0.rm = true }),
        ("-i", .flag { $0.interactive = true }), ("--interactive", .flag { $0.interactive = true }),
        ("-t", .flag { $0.tty = true }), ("--tty", .flag { $0.tty = true }),
        ("-P", .flag { $0.publishAll = true }), ("--publish-all", .flag { $0.publishAll = true }),
        ("--read-only", .flag { $0.readOnly = true }),
        ("--privileged", .flag { $0.privileged = true }),
        ("--init", .flag { $0.`init` = true }),
        ("--name", .value { $0.name = $1 }),
        ("-w", .value { $0.workdir = $1 }), ("--workdir", .value { $0.workdir = $1 }),
        ("-u", .value { $0.user = $1 }), ("--user", .value { $0.user = $1 }),
        ("--entrypoint", .value { $0.entrypoint = $1 }),
        ("-h", .value { $0.hostname = $1 }), ("--hostname", .value { $0.hostname = $1 }),
        ("--network", .value { $0.networkGiven = $1 }), ("--net", .value { $0.networkGiven = $1 }),
        ("--restart", .value { $0.restartGiven = $1 }),
        ("--stop-signal", .value { $0.stopSignalGiven = $1 }),
        ("--userns", .value { $0.userns = $1 }),
        ("--platform", .value { $0.platform = $1 }),
        ("--storage-driver", .value { $0.storageDriver = $1 }),
        ("-e", .value { $0.env.append($1) }), ("--env", .value { $0.env.append($1) }),
        ("-p", .value { $0.publish.append($1) }), ("--publish", .value { $0.publish.append($1) }),
        ("-v", .value { $0.volume.append($1) }), ("--volume", .value { $0.volume.append($1) }),
        ("--mount", .value { $0.mount.append($1) }),
        ("--tmpfs", .value { $0.tmpfs.append($1) }),
        ("--dns", .value { $0.dns.append($1) }),
        ("--dns-search", .value { $0.dnsSearch.append($1) }),
        ("--dns-option", .value { $0.dnsOption.append($1) }),
        ("--add-host", .value { $0.addHost.append($1) }),
        ("--log-opt", .value { $0.logOptions.append($1) }),
        ("--cap-add", .value { $0.capAdd.append($1) }), ("--cap-drop", .value { $0.capDrop.append($1) }),
        ("--security-opt", .value { $0.securityOptions.append($1) }),
        ("--ulimit", .value { $0.ulimit.append($1) }),
        ("--env-file", .value { $0.envFile.append($1) }),
        ("--group-add", .value { $0.groupAdd.append($1) }),
    ]
}

extension CreateOptions {
    /// Every option as swift-argument-parser leaves one that is not given.
    static func unset() -> CreateOptions {
        var options = CreateOptions()
        options.name = nil
        options.rm = false
        options.interactive = false
        options.tty = false
        options.env = []
        options.workdir = nil
        options.user = nil
        options.entrypoint = nil
        options.hostname = nil
        options.networkGiven = nil
        options.publish = []
        options.publishAll = false
        options.dns = []
        options.dnsSearch = []
        options.dnsOption = []
        options.addHost = []
        options.restartGiven = nil
        options.stopSignalGiven = nil
        options.stopTimeoutGiven = nil
        options.logOptions = []
        options.volume = []
        options.mount = []
        options.tmpfs = []
        options.readOnly = false
        options.privileged = false
        options.capAdd = []
        options.capDrop = []
        options.securityOptions = []
        options.ulimit = []
        options.envFile = []
        options.`init` = false
        options.groupAdd = []
        options.userns = nil
        options.resources = ResourceOptions.unset()
        options.registry = RegistryOptions.unset()
        options.platform = nil
        options.storageDriver = nil
        return options
    }
}

extension ResourceOptions {
    /// Every option as swift-argument-parser leaves one that is not given.
    static func unset() -> ResourceOptions {
        var options = ResourceOptions()
        options.memory = nil
        options.memorySwap = nil
        options.memoryReservation = nil
        options.cpus = nil
        options.cpuShares = nil
        options.cpuWeight = nil
        options.cpusetCpus = nil
        options.pidsLimit = nil
        options.oomScoreAdj = nil
        return options
    }
}

extension RegistryOptions {
    /// Every option as swift-argument-parser leaves one that is not given.
    static func unset() -> RegistryOptions {
        var options = RegistryOptions()
        options.tlsVerifyGiven = nil
        options.authfile = nil
        options.creds = nil
        return options
    }
}
