// `swctr fuse-overlay`: the overlay as a tool of its own, with fuse-overlayfs' command line, for
// mounting by hand and for the storage benchmark. Containers do not use it; they start the
// `__fuse-overlay` role on a /dev/fuse fd their init mounted.
import CFuse
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

public enum FuseOverlayTool {
    public static let commandName = "fuse-overlay"

    static let usage = """
        Usage: swctr fuse-overlay -o lowerdir=DIR[:DIR...],upperdir=DIR,workdir=DIR [-f] MOUNTPOINT

        Mounts swctr's FUSE overlay: the lower directories (topmost first) under the upper one,
        whiteouts and opaque directories in the kernel overlay's userxattr format. Run it as root
        of a user namespace that owns the current mount namespace (unshare -Urm, podman unshare).
        It goes to the background once mounted; -f keeps it in the foreground. Unmount with
        fusermount3 -u MOUNTPOINT or umount MOUNTPOINT.

        """

    /// Parsed command line.
    struct Options {
        var lowers: [String] = []
        var upper = ""
        var work = ""
        var mountPoint = ""
        var foreground = false
    }

    static func parse(_ arguments: [String]) throws(OptionError) -> Options {
        var options = Options()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            switch argument {
            case "-f", "--foreground":
                options.foreground = true
            case "-o":
                guard index < arguments.count else { throw OptionError("-o needs a value") }
                for option in arguments[index].split(separator: ",") {
                    let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
                    switch parts[0] {
                    case "lowerdir": options.lowers = parts.count > 1 ? parts[1].split(separator: ":").map(String.init) : []
                    case "upperdir": options.upper = parts.count > 1 ? parts[1] : ""
                    case "workdir": options.work = parts.count > 1 ? parts[1] : ""
                    default: break  // fuse-overlayfs' tuning options (squash, uidmapping…) have no meaning here
                    }
                }
                index += 1
            default:
                if argument.hasPrefix("-") { throw OptionError("unknown option \(argument)") }
                guard options.mountPoint.isEmpty else { throw OptionError("one mount point only (got \(options.mountPoint) and \(argument))") }
                options.mountPoint = argument
            }
        }
        if options.mountPoint.isEmpty { throw OptionError("no mount point given") }
        if options.lowers.isEmpty { throw OptionError("-o lowerdir=DIR[:DIR...] is required") }
        if options.upper.isEmpty || options.work.isEmpty { throw OptionError("-o upperdir=DIR,workdir=DIR are required") }
        return options
    }

    struct OptionError: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    public static func main(arguments: [String]) -> Never {
        if arguments.contains("--help") || arguments.contains("-h") {
            try? FileDescriptor.standardOutput.writeAll(usage)
            exit(0)
        }
        let options: Options
        do {
            options = try parse(arguments)
        } catch {
            fail("\(error.message) — see swctr fuse-overlay --help", code: 2)
        }
        let server: FuseServer
        do {
            let filesystem = try OverlayFilesystem(upper: options.upper, work: options.work, lowers: options.lowers)
            server = try FuseServer(filesystem: filesystem, target: .directory(options.mountPoint))
        } catch let error as SystemCallError {
            fail(error.description, code: 1)
        } catch let error as FuseServerError {
            fail(error.userMessage + (geteuid() != 0 ? " (run it as root of a user namespace: unshare -Urm)" : ""), code: 1)
        } catch {
            fail("\(error)", code: 1)
        }
        // The mount is in place already: the command that started this one may go on at once,
        // without waiting for the server's fork to be scheduled nor for its own memory's teardown.
        if !options.foreground {
            do { try ProcessExit.continuingInBackground() } catch { fail("cannot go to the background: \(error.description)", code: 1) }
        }
        exit(server.run() == 0 ? 0 : 1)
    }

    static func fail(_ message: String, code: Int32) -> Never {
        try? FileDescriptor.standardError.writeAll("swctr fuse-overlay: \(message)\n")
        exit(code)
    }
}
