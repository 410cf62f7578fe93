import ArgumentParser
import Containers
import ImageReference
import ImageStore
import Registry

struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pull", _superCommandName: Swctr.commandName, abstract: "Pull an image from a registry.")

    @Flag(name: .shortAndLong, help: "Print only the image id (no progress).")
    var quiet = false

    @Option(help: "Pull this platform's variant of the image: OS/ARCH[/VARIANT], e.g. linux/arm64.")
    var platform: String?

    @OptionGroup var registry: RegistryOptions

    @Argument(help: "The image: NAME[:TAG|@DIGEST], e.g. alpine or localhost:5000/app:1.0.")
    var image: String

    func run() throws {
        do {
            let access = try registry.access
            let wanted = try parsePlatform(platform) ?? .current
            let session = try Session.open(quiet: quiet)
            let progress = PullProgress(quiet: quiet)
            let record = try access.pull(image, into: session.store, unpacker: UserNamespaceTools(idMaps: session.idMaps), platform: wanted,
                                         events: progress.handler, note: progress.note)
            print(record.id.description)
        } catch {
            throw fail(error, exitCode: 1)
        }
    }
}
