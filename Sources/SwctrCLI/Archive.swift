import ArgumentParser
import Containers
import ImageReference
import ImageStore
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

extension ImageArchiveFormat: ExpressibleByArgument {}

struct Save: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "save", _superCommandName: Swctr.commandName,
        abstract: "Write images to a tar archive (docker-archive, as docker save writes, or oci-archive).")

    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
    var output: String?

    @Option(help: "docker-archive (several images) or oci-archive (one image).")
    var format: ImageArchiveFormat = .dockerArchive

    @Flag(name: .shortAndLong, help: "Print nothing but errors.")
    var quiet = false

    @Argument(help: "Images, by name or id.")
    var images: [String]

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image to save") }
    }

    func run() throws {
        do {
            if output == nil && FileDescriptor.standardOutput.isTerminal { throw ImageArchiveError.refusingTerminal(output: true) }
            let store = try Session.open(quiet: true).store
            try store.save(try images.map { try store.imageToSave($0) }, format: format, to: output)
        } catch {
            throw fail(error, exitCode: 1)
        }
    }
}

struct Load: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load", _superCommandName: Swctr.commandName,
        abstract: "Load images from a docker-archive or oci-archive tar (plain or compressed).")

    @Option(name: .shortAndLong, help: "Read from this file instead of standard input.")
    var input: String?

    @Flag(name: .shortAndLong, help: "Print only the loaded images.")
    var quiet = false

    func run() throws {
        do {
            let session = try Session.open(quiet: quiet)
            let fd: FileDescriptor
            if let input {
                fd = try FileDescriptor.open(input, O_RDONLY)
            } else {
                if FileDescriptor.standardInput.isTerminal { throw ImageArchiveError.refusingTerminal(output: false) }
                fd = .standardInput
            }
            defer { if fd != .standardInput { fd.close() } }
            let loaded = try session.store.load(from: fd, source: input ?? "standard input", unpacker: UserNamespaceTools(idMaps: session.idMaps))
            for image in loaded {
                for name in image.names.isEmpty ? [image.record.id.description] : image.names { print("Loaded image: " + name) }
            }
        } catch {
            throw fail(error, exitCode: 1)
        }
    }
}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", _superCommandName: Swctr.commandName,
        abstract: "Make a one-layer image from a root filesystem tarball (plain or compressed); - reads standard input.")

    @Option(name: .shortAndLong, help: "A Dockerfile instruction to apply: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME or WORKDIR.")
    var change: [String] = []

    @Option(name: .shortAndLong, help: "A message for the image's history.")
    var message: String?

    @Flag(name: .shortAndLong, help: "Print nothing but the image id.")
    var quiet = false

    @Argument(help: "The tarball: a file, or - for standard input.")
    var source: String

    @Argument(help: "The image's name: REPOSITORY[:TAG].")
    var name: String?

    func run() throws {
        do {
            let changes = try change.map { try ConfigurationChange(parsing: $0) }
            var normalized: String?
            if let name {
                let reference = try ImageReference.parse(name)
                if reference.digest != nil { throw CLIError("the name \"\(name)\" has a digest — give REPOSITORY[:TAG]") }
                normalized = reference.description
            }
            if source.contains("://") { throw ImageArchiveError.urlImportNotSupported(source) }
            let session = try Session.open(quiet: quiet)
            let fd: FileDescriptor
            if source == "-" {
                if FileDescriptor.standardInput.isTerminal { throw ImageArchiveError.refusingTerminal(output: false) }
                fd = .standardInput
            } else {
                fd = try FileDescriptor.open(source, O_RDONLY)
            }
            defer { if fd != .standardInput { fd.close() } }
            let record = try session.store.importRootfs(from: fd, source: source == "-" ? "standard input" : source, name: normalized,
                                                        changes: changes, message: message, unpacker: UserNamespaceTools(idMaps: session.idMaps))
            print(record.id.description)
        } catch {
            throw fail(error, exitCode: 1)
        }
    }
}
