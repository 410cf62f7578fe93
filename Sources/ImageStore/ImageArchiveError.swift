import ImageReference
import SystemSupport

/// Why `save`, `load` or `import` failed. Problems with an archive's content name the entry and
/// say the archive is bad; nothing it brought is left in the store.
public enum ImageArchiveError: Error, UserFacingError {
    case notATarArchive(source: String, reason: String)
    case damaged(source: String, reason: String)
    case unknownFormat
    case unsafeEntry(entry: String, reason: String)
    case duplicateEntry(String)
    case missingEntry(String, namedBy: String)
    case linkEntry(String, namedBy: String)
    case documentTooLarge(String, size: Int64)
    case invalidDocument(String, reason: String)
    case digestMismatch(entry: String, claimed: Digest, actual: Digest)
    case diffIDMismatch(entry: String, expected: Digest, actual: Digest)
    case invalidName(String, in: String)
    case unsupportedImage(String, reason: String)
    case blobMissing(image: String, blob: Digest)
    case refusingTerminal(output: Bool)
    case tooManyImages(format: String)
    case urlImportNotSupported(String)
    case invalidChange(String, reason: String)
    case io(SystemCallError)

    public var userMessage: String {
        let hostile = " — the archive is malformed or hostile; nothing was loaded"
        switch self {
        case .notATarArchive(let source, let reason):
            return "\(source) is not a tar archive (\(reason)) — give a tar file, plain or compressed with gzip, bzip2, xz or zstd"
        case .damaged(let source, let reason):
            return "\(source) is damaged or cut short (\(reason)); nothing was loaded — write the archive again"
        case .unknownFormat:
            return "the archive has neither manifest.json (docker-archive) nor oci-layout and index.json (oci-archive) — give a file written by swctr, docker or podman save"
        case .unsafeEntry(let entry, let reason):
            return "archive entry \"\(entry)\" \(reason)" + hostile
        case .duplicateEntry(let entry):
            return "archive entry \"\(entry)\" appears twice" + hostile
        case .missingEntry(let entry, let namedBy):
            return "\(namedBy) names \"\(entry)\", which the archive does not have" + hostile
        case .linkEntry(let entry, let namedBy):
            return "\(namedBy) names \"\(entry)\", which is a link in the archive, not a file" + hostile
        case .documentTooLarge(let entry, let size):
            return "archive entry \"\(entry)\" is \(size) bytes, more than the 8 MiB allowed for a JSON document" + hostile
        case .invalidDocument(let entry, let reason):
            return "archive entry \"\(entry)\" is not valid: \(reason)" + hostile
        case .digestMismatch(let entry, let claimed, let actual):
            return "archive entry \"\(entry)\" does not match its digest (named \(claimed), content \(actual))" + hostile
        case .diffIDMismatch(let entry, let expected, let actual):
            return "layer \"\(entry)\" does not match the image configuration's diff_id (expected \(expected), content \(actual))" + hostile
        case .invalidName(let name, let entry):
            return "\(entry) names the image \"\(name)\", which is not a valid image reference" + hostile
        case .unsupportedImage(let image, let reason):
            return "cannot load image \(image): \(reason)"
        case .blobMissing(let image, let blob):
            return "cannot save \(image) as oci-archive: its blob \(blob.description.prefix(19)) is not in the store (the layer was shared with another image) — save it as docker-archive"
        case .refusingTerminal(let output):
            return output
                ? "refusing to write an image archive to a terminal — use -o FILE or redirect the output"
                : "refusing to read an image archive from a terminal — use -i FILE or redirect the input"
        case .tooManyImages(let format):
            return "\(format) holds one image — save the others to their own files, or use --format docker-archive"
        case .urlImportNotSupported(let url):
            return "importing from a URL (\(url)) is not supported — download it first (curl -o rootfs.tar URL) and import the file"
        case .invalidChange(let change, let reason):
            return "--change \"\(change)\": \(reason)"
        case .io(let error):
            return "image archive: \(error.description)"
        }
    }
}
