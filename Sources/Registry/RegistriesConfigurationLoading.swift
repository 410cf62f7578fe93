import SystemSupport

extension RegistriesConfiguration {
    /// Containers' system-wide file, read when the user has none.
    public static let systemFile = "/etc/containers/registries.conf"

    /// The registries.conf to read for this environment, in order of preference:
    /// `$SWCTR_REGISTRIES_CONF` or `$CONTAINERS_REGISTRIES_CONF` (named, even if missing);
    /// `$XDG_CONFIG_HOME/swctr/registries.conf`; `$XDG_CONFIG_HOME/containers/registries.conf`;
    /// `systemFile`; the first that exists. nil when none does.
    public static func configurationFile(environment: [String: String], systemFile: String = systemFile) -> (path: String, variable: String?)? {
        for variable in ["SWCTR_REGISTRIES_CONF", "CONTAINERS_REGISTRIES_CONF"] {
            if let path = environment[variable], !path.isEmpty { return (path, variable) }
        }
        let swctrConfig = UserDirectories.current(environment: environment).config
        let configHome = String(swctrConfig.dropLast("/swctr".count))
        for path in [swctrConfig + "/registries.conf", configHome + "/containers/registries.conf", systemFile] where FileSystem.exists(path) {
            return (path, nil)
        }
        return nil
    }

    /// The drop-in directory merged over a configuration file: `registries.conf.d` beside it.
    public static func dropInDirectory(for file: String) -> String {
        let directory = file.lastIndex(of: "/").map { String(file[..<$0]) } ?? "."
        return (directory.isEmpty ? "" : directory) + "/registries.conf.d"
    }

    /// Reads the configuration for this environment: the file `configurationFile` chooses (or
    /// empty defaults), then each `*.conf` in its drop-in directory in name order on top.
    public static func load(
        environment: [String: String] = ProcessEnvironment.current,
        systemFile: String = systemFile
    ) throws(RegistryConfigurationError) -> RegistriesConfiguration {
        var configuration = RegistriesConfiguration()
        let chosen = configurationFile(environment: environment, systemFile: systemFile)
        if let chosen {
            configuration = try read(chosen.path, variable: chosen.variable)
        }
        let dropIns = dropInDirectory(for: chosen?.path ?? systemFile)
        guard FileSystem.isDirectory(dropIns) else { return configuration }
        let names: [String]
        do { names = try FileSystem.listDirectory(dropIns) } catch {
            throw .unreadable(path: dropIns, reason: error.reason, variable: nil)
        }
        for name in names where name.hasSuffix(".conf") && !name.hasPrefix(".") && !FileSystem.isDirectory(dropIns + "/" + name) {
            configuration = configuration.merging(try read(dropIns + "/" + name, variable: nil))
        }
        return configuration
    }

    /// Reads one file.
    public static func read(_ path: String, variable: String? = nil) throws(RegistryConfigurationError) -> RegistriesConfiguration {
        let text: String
        do { text = try FileSystem.readText(path) } catch {
            throw .unreadable(path: path, reason: error.reason, variable: variable)
        }
        return try parse(text, path: path)
    }

    /// Reads a file's text; `path` names it in messages.
    public static func parse(_ text: String, path: String) throws(RegistryConfigurationError) -> RegistriesConfiguration {
        try RegistriesFileReader(path: path).read(text)
    }
}
