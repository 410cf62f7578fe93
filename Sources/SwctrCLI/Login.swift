import ArgumentParser
import Containers
import ImageReference
import Registry
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// The registry a user named for login/logout: `host[:port]`, also given as a URL.
func registryDomain(_ text: String) throws -> String {
    let key = CredentialStore.normalizedKey(text)
    guard !key.isEmpty, !key.contains("/"), (try? ImageReference.parse(key + "/probe")) != nil else {
        throw CLIError("\"\(text)\" is not a registry: give HOST[:PORT], e.g. docker.io or localhost:5000")
    }
    return key
}

struct Login: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login", _superCommandName: Swctr.commandName,
        abstract: "Log in to a registry: check the credentials, then store them (mode 0600).",
        discussion: "They go to --authfile, else $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json, as Podman keeps them.")

    @Option(name: .shortAndLong, help: "The user name (asked for on a terminal when left out).") var username: String?
    @Option(name: .shortAndLong, help: "The password (visible to other users in ps: prefer --password-stdin).") var password: String?
    @Flag(name: .customLong("password-stdin"), help: "Read the password from stdin.") var passwordStdin = false
    @Flag(name: .customLong("get-login"), help: "Print the user name stored for the registry.") var getLogin = false
    @OptionGroup var registry: RegistryOptions
    @Argument(help: "The registry: HOST[:PORT] (default docker.io).") var server: String = "docker.io"

    func validate() throws {
        if passwordStdin && password != nil { throw ValidationError("give --password or --password-stdin, not both") }
    }

    func run() throws {
        do {
            let domain = try registryDomain(server)
            var access = try registry.access
            if getLogin {
                guard let stored = try access.credentialStore.credentials(forRegistry: domain) else {
                    throw CLIError("not logged in to \(domain)")
                }
                print(stored.username)
                return
            }
            let user = try username ?? Self.ask("Username: ")
            guard !user.isEmpty else { throw CLIError("the user name is empty") }
            let secret: String
            if passwordStdin {
                secret = try Self.readStandardInput()
            } else if let password {
                secret = password
            } else {
                secret = try RegistryOptions.askPassword()
            }
            guard !secret.isEmpty else { throw CLIError("the password is empty") }
            let credentials = RegistryCredentials(username: user, password: secret)
            access.credentials = credentials
            let reference = try ImageReference.parse(domain + "/probe")
            try access.client(for: reference).checkAccess(repository: nil)
            let file = try access.credentialStore.store(credentials, forRegistry: domain)
            printError("Credentials stored in \(file)")
            print("Login Succeeded!")
        } catch {
            throw fail(error, exitCode: 1)
        }
    }

    static func ask(_ prompt: String) throws -> String {
        guard isatty(STDIN_FILENO) == 1 else { throw CLIError("no user name given and stdin is not a terminal — use --username") }
        try? FileDescriptor.standardError.writeAll(prompt)
        return readLine(strippingNewline: true) ?? ""
    }

    /// The password from stdin: its first line (a trailing newline is not part of it).
    static func readStandardInput() throws -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 16 {
            let n = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        var text = String(decoding: bytes, as: UTF8.self)
        while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
        return text
    }
}

struct Logout: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logout", _superCommandName: Swctr.commandName, abstract: "Remove a registry's stored credentials.")

    @Flag(name: .shortAndLong, help: "Remove the credentials of every registry.") var all = false
    @Option(help: "The credentials file to change.") var authfile: String?
    @Argument(help: "The registry: HOST[:PORT] (default docker.io).") var server: String = "docker.io"

    func run() throws {
        do {
            let store = CredentialStore(environment: ProcessEnvironment.current, authFile: authfile)
            if all {
                let count = try store.removeAll()
                print("Removed login credentials for \(count) registr\(count == 1 ? "y" : "ies")")
                return
            }
            let domain = try registryDomain(server)
            guard try store.remove(forRegistry: domain) else {
                throw CLIError("not logged in to \(domain) (in \(store.storeFile))")
            }
            print("Removed login credentials for \(domain)")
        } catch {
            throw fail(error, exitCode: 1)
        }
    }
}
