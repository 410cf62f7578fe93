import ArgumentParser
import Containers
import ImageReference
import ImageStore
import Registry

struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Pull an image from a registry.")

    @Flag(name: .shortAndLong, help: "Print only the image id.")
    var quiet = false

    @OptionGroup var tls: TLSOptions

    @Argument(help: "The image: NAME[:TAG|@DIGEST], e.g. alpine or localhost:5000/app:1.0.")
    var image: String

    func run() throws {
        do {
            let reference = try ImageReference.parse(image)
            let session = try Session.open(quiet: quiet)
            let client = RegistryClient(reference: reference, tlsVerify: tls.tlsVerify)
            let record = try session.store.pull(reference, client: client, unpacker: UserNamespaceTools(idMaps: session.idMaps))
            print(record.id.description)
        } catch {
            throw fail(error, exitCode: 1)
        }
    }
}
