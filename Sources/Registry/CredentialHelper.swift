import FoundationEssentials
import SystemSupport

/// A Docker credential helper: the program `docker-credential-<name>` on PATH, which answers
/// `get` (the server on stdin) with `{"ServerURL","Username","Secret"}` on stdout.
struct CredentialHelper {
    let name: String
    /// The environment the helper runs with (and whose PATH finds it).
    let environment: [String: String]
    /// The file that names the helper, for messages.
    let configuredIn: String

    var program: String { "docker-credential-" + name }

    /// What helpers store Docker Hub under (Docker's own name for it); other registries are host[:port].
    static func serverURL(for host: String) -> String {
        host == "docker.io" ? "https://index.docker.io/v1/" : host
    }

    /// The helper's credentials for `host`, or nil when it has none.
    func credentials(for host: String) throws(CredentialError) -> RegistryCredentials? {
        guard let executable = ChildProcess.findExecutable(program, searchPath: environment["PATH"] ?? "") else {
            throw .helperMissing(helper: name, registry: host, path: configuredIn)
        }
        let output: ProgramOutput
        do {
            output = try ChildProcess.run(
                executable, arguments: [program, "get"], environment: environment.map { $0.key + "=" + $0.value },
                input: Array(Self.serverURL(for: host).utf8))
        } catch {
            throw .helperFailed(helper: name, registry: host, reason: error.description)
        }
        guard output.status == .exited(0) else {
            let message = (output.standardOutput.trimmed + "\n" + output.standardError.trimmed).trimmed
            if message.lowercased().contains("credentials not found") { return nil }
            let firstLine = message.split(separator: "\n").first.map(String.init) ?? "it exited with status \(output.status.shellCode)"
            throw .helperFailed(helper: name, registry: host, reason: firstLine)
        }
        struct Answer: Decodable {
            let Username: String?
            let Secret: String?
        }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(output.standardOutput.utf8)) else {
            throw .helperFailed(helper: name, registry: host, reason: "its answer is not the JSON object {\"ServerURL\",\"Username\",\"Secret\"}")
        }
        let username = answer.Username ?? ""
        let secret = answer.Secret ?? ""
        if secret.isEmpty && username.isEmpty { return nil }
        if username == "<token>" { return RegistryCredentials(username: "", password: "", identityToken: secret) }
        return RegistryCredentials(username: username, password: secret)
    }
}
