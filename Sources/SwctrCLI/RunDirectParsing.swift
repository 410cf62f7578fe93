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
                if case .flag(let flag) = option { options[keyPath: flag] = true } else { run.detach = true }
            case .value(let property):
                guard let given = value(attached: attached) else { return false }
                options[keyPath: property] = given
            case .list(let property):
                guard let given = value(attached: attached) else { return false }
                options[keyPath: property].append(given)
            }
            return true
        }
        while index < arguments.count {
            let argument = arguments[index]
            guard argument.hasPrefix("-"), argument != "-" else { break }
            if argument.hasPrefix("--") {
                let equals = argument.firstIndex(of: "=")
                let name = equals.map { argument[..<$0] } ?? Substring(argument)
                guard let option = DirectRunOption.named[name],
                      apply(option, attached: equals.map { argument[argument.index(after: $0)...] })
                else { return nil }
            } else if argument.count == 2 {
                guard let option = DirectRunOption.named[Substring(argument)], apply(option, attached: nil) else { return nil }
            } else {
                // One-letter flags together (-it); a one-letter option with its value attached is left to swift-argument-parser.
                for letter in argument.dropFirst() {
                    guard let option = DirectRunOption.named["-" + String(letter)], option.isFlag, apply(option, attached: nil)
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
    case flag(WritableKeyPath<CreateOptions, Bool> & Sendable)
    case value(WritableKeyPath<CreateOptions, String?> & Sendable)
    case list(WritableKeyPath<CreateOptions, [String]> & Sendable)

    var isFlag: Bool {
        switch self {
        case .detach, .flag: true
        case .value, .list: false
        }
    }

    /// By every name the option has in `Run` and `CreateOptions`.
    static let named: [Substring: DirectRunOption] = [
        "-d": .detach, "--detach": .detach,
        "--rm": .flag(\.rm),
        "-i": .flag(\.interactive), "--interactive": .flag(\.interactive),
        "-t": .flag(\.tty), "--tty": .flag(\.tty),
        "-P": .flag(\.publishAll), "--publish-all": .flag(\.publishAll),
        "--read-only": .flag(\.readOnly),
        "--privileged": .flag(\.privileged),
        "--init": .flag(\.`init`),
        "--name": .value(\.name),
        "-w": .value(\.workdir), "--workdir": .value(\.workdir),
        "-u": .value(\.user), "--user": .value(\.user),
        "--entrypoint": .value(\.entrypoint),
        "-h": .value(\.hostname), "--hostname": .value(\.hostname),
        "--network": .value(\.networkGiven), "--net": .value(\.networkGiven),
        "--restart": .value(\.restartGiven),
        "--stop-signal": .value(\.stopSignalGiven),
        "--userns": .value(\.userns),
        "--platform": .value(\.platform),
        "--storage-driver": .value(\.storageDriver),
        "-e": .list(\.env), "--env": .list(\.env),
        "-p": .list(\.publish), "--publish": .list(\.publish),
        "-v": .list(\.volume), "--volume": .list(\.volume),
        "--mount": .list(\.mount),
        "--tmpfs": .list(\.tmpfs),
        "--dns": .list(\.dns), "--dns-search": .list(\.dnsSearch), "--dns-option": .list(\.dnsOption),
        "--add-host": .list(\.addHost),
        "--log-opt": .list(\.logOptions),
        "--cap-add": .list(\.capAdd), "--cap-drop": .list(\.capDrop),
        "--security-opt": .list(\.securityOptions),
        "--ulimit": .list(\.ulimit),
        "--env-file": .list(\.envFile),
        "--group-add": .list(\.groupAdd),
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
