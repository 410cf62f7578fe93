import Foundation
import XCTest

/// The three storage drivers (kernel overlay, swctr's FUSE overlay, full copy) behave the same
/// for what a container does with its files; the FUSE overlay's server leaves nothing behind.
final class StorageDriverTests: SwctrTestCase {
    static let drivers = ["overlay", "fuse-overlay", "copy"]

    /// What each driver must print for `filesystemScript` on test/debian.
    static let expectedBehaviour = """
        keep
        whiteout-hides
        opaque: new.txt
        keep
        appended
        moved: new.txt
        fresh: 0
        viahl
        links: 2
        daemon:daemon 644
        nobody:nogroup 640
        opaque-new: 0
        1:1
        Permission denied
        nobody
        2147483648 8
        x
        10000
        many-gone
        2000
        2000
        user.note=kept
        user.note
        copied-up xattr: user.lower=from-lower
        gone: No such file or directory
        setuid after a user's write: 777
        setuid after root's write: 755

        """

    /// Reads lower files, whiteouts and opaque directories of the image, then writes: copy-up,
    /// rename of a lower directory, hard links, owners and modes, a 2 GiB sparse file, 10k
    /// entries, concurrent appenders, xattrs (set on a new file and on a lower file, so copied up),
    /// setuid dropped by any write (inside a user namespace nobody has CAP_FSETID where it counts).
    static let filesystemScript = #"""
        cat /opt/swctr-test/keep.txt
        test ! -e /opt/swctr-test/gone.txt && echo whiteout-hides
        echo opaque: $(ls /opt/swctr-test/opaque)
        echo appended >> /opt/swctr-test/keep.txt; cat /opt/swctr-test/keep.txt
        mv /opt/swctr-test /opt/moved && test ! -e /opt/swctr-test && echo moved: $(ls /opt/moved/opaque)
        mkdir /opt/swctr-test && echo fresh: $(ls -A /opt/swctr-test | wc -l)
        ln /opt/moved/keep.txt /opt/hl; echo viahl >> /opt/hl; tail -1 /opt/moved/keep.txt; echo links: $(stat -c %h /opt/moved/keep.txt)
        stat -c '%U:%G %a' /opt/moved/owned-daemon /opt/moved/owned-nobody
        rm -rf /usr/share/doc && mkdir /usr/share/doc && echo opaque-new: $(ls -A /usr/share/doc | wc -l)
        touch /tmp/o; chown 1:1 /tmp/o; stat -c %u:%g /tmp/o
        setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'echo no > /etc/not-yours' 2>&1 | sed 's/.*: //'
        setpriv --reuid=65534 --regid=65534 --clear-groups cat /opt/moved/owned-nobody
        truncate -s 2G /big && printf x | dd of=/big bs=1 seek=1073741824 conv=notrunc status=none && stat -c '%s %b' /big
        tail -c +1073741825 /big | head -c 1; echo; rm /big
        mkdir /many && cd /many && seq 1 10000 | xargs touch && ls | wc -l && cd / && rm -rf /many && echo many-gone
        for i in 1 2 3 4; do (for j in $(seq 1 500); do echo "$i $j" >> /shared; echo $j >> /own$i; done) & done; wait
        wc -l < /shared; cat /own1 /own2 /own3 /own4 | wc -l
        touch /x; /tools/xattr set /x user.note kept; /tools/xattr get /x user.note; /tools/xattr list /x
        /tools/xattr set /etc/debian_version user.lower from-lower 2>/dev/null || true
        echo "copied-up xattr: $(/tools/xattr get /etc/debian_version user.lower)"
        /tools/xattr get /x user.absent 2>&1 | sed 's/.*: /gone: /'
        touch /tmp/s; chmod 4777 /tmp/s; setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'echo x >> /tmp/s'
        stat -c "setuid after a user's write: %a" /tmp/s
        touch /tmp/r; chmod 4755 /tmp/r; echo x >> /tmp/r; stat -c "setuid after root's write: %a" /tmp/r
        """#

    /// A static helper for xattrs (the image has no setfattr): set PATH NAME VALUE, get PATH NAME, list PATH.
    static let xattrTool = #"""
        #include <errno.h>
        #include <stdio.h>
        #include <string.h>
        #include <sys/xattr.h>
        int main(int argc, char **argv) {
            char buf[4096];
            if (argc == 5 && !strcmp(argv[1], "set")) {
                if (lsetxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0)) { perror("set"); return 1; }
                return 0;
            }
            if (argc == 4 && !strcmp(argv[1], "get")) {
                ssize_t n = lgetxattr(argv[2], argv[3], buf, sizeof buf - 1);
                if (n < 0) { printf("%s: %s\n", argv[3], strerror(errno == ENODATA ? ENOENT : errno)); return 1; }
                buf[n] = 0; printf("%s=%s\n", argv[3], buf); return 0;
            }
            if (argc == 3 && !strcmp(argv[1], "list")) {
                ssize_t n = llistxattr(argv[2], buf, sizeof buf);
                if (n < 0) { perror("list"); return 1; }
                for (char *p = buf; p < buf + n; p += strlen(p) + 1) printf("%s\n", p);
                return 0;
            }
            return 2;
        }
        """#

    override func setUpWithError() throws {
        try super.setUpWithError()
        let pulled = state.swctr("pull", "-q", state.image("debian"))
        XCTAssertEqual(pulled.status, 0, pulled.stderr)
    }

    /// Compiles the xattr helper and writes the script into a directory the container mounts at /tools.
    func makeTools() throws -> String {
        let tools = state.scratch + "/tools"
        try FileManager.default.createDirectory(atPath: tools, withIntermediateDirectories: true)
        try Self.xattrTool.write(toFile: tools + "/xattr.c", atomically: true, encoding: .utf8)
        try Self.filesystemScript.write(toFile: tools + "/fs.sh", atomically: true, encoding: .utf8)
        let compiled = TestHost.execute(["/usr/bin/gcc", "-static", "-O1", "-o", tools + "/xattr", tools + "/xattr.c"])
        XCTAssertEqual(compiled.status, 0, compiled.stderr)
        TestHost.execute(["/bin/chmod", "-R", "a+rX", tools])
        return tools
    }

    func fuseServers() -> [String] {
        let listed = TestHost.execute(["/usr/bin/pgrep", "-u", state.user, "-a", "-f", "__fuse-overlay"])
        return listed.stdout.split(separator: "\n").map(String.init)
    }

    /// Mounts of the FUSE overlay in any mount namespace on the host (none may outlive its container).
    func fuseMountsAnywhere() -> Int {
        let listed = TestHost.execute(["/bin/sh", "-c", "cat /proc/[0-9]*/mountinfo 2>/dev/null | grep -c swctr-overlay"])
        return Int(listed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    func testTheSameFilesystemBehaviourOnEveryDriver() throws {
        let tools = try makeTools()
        for driver in Self.drivers {
            state.extraEnvironment = ["SWCTR_STORAGE_DRIVER=\(driver)"]
            let result = state.swctr("run", "--rm", "--network", "none", "-v", "\(tools):/tools:ro", state.image("debian"), "bash", "/tools/fs.sh")
            XCTAssertEqual(result.stdout, Self.expectedBehaviour, "\(driver): \(result.stderr)")
            XCTAssertEqual(result.status, 0, "\(driver): \(result.stderr)")
        }
        XCTAssertEqual(fuseServers(), [], "no FUSE server outlives its container")
    }

    func testTheDriverShowsInInspectAndTheMountInside() {
        for driver in Self.drivers {
            state.extraEnvironment = ["SWCTR_STORAGE_DRIVER=\(driver)"]
            let made = state.swctr("create", "--network", "none", state.image("debian"), "sh", "-c", "grep ' / / ' /proc/self/mountinfo | sed 's/.* - //' | cut -d' ' -f1")
            XCTAssertEqual(made.status, 0, made.stderr)
            let id = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let shown = state.swctr("inspect", "--format", "{{.Driver}}", id)
            XCTAssertEqual(shown.stdout, driver + "\n", shown.stderr)
            let started = state.swctr("start", "-a", id)
            let expected = ["overlay": "overlay", "fuse-overlay": "fuse.swctr-overlay", "copy": "ext4"][driver]!
            if driver != "copy" { XCTAssertEqual(started.stdout, expected + "\n", "\(driver): \(started.stderr)") }
            XCTAssertEqual(state.swctr("rm", id).status, 0)
        }
    }

    func testFlagConfigurationAndBadNames() throws {
        state.extraEnvironment = []
        let flagged = state.swctr("run", "--rm", "--network", "none", "--storage-driver", "fuse-overlay", state.image("debian"),
                                  "sh", "-c", "grep ' / / ' /proc/self/mountinfo | sed 's/.* - //' | cut -d' ' -f1")
        XCTAssertEqual(flagged.stdout, "fuse.swctr-overlay\n", flagged.stderr)

        let config = state.scratch + "/config"
        try FileManager.default.createDirectory(atPath: config + "/swctr", withIntermediateDirectories: true)
        try "[storage]\ndriver = \"fuse-overlayfs\"\n".write(toFile: config + "/swctr/storage.conf", atomically: true, encoding: .utf8)
        TestHost.execute(["/bin/chmod", "-R", "a+rX", config])
        state.extraEnvironment = ["XDG_CONFIG_HOME=\(config)"]
        let configured = state.swctr("run", "--rm", "--network", "none", state.image("debian"), "sh", "-c",
                                     "grep ' / / ' /proc/self/mountinfo | sed 's/.* - //' | cut -d' ' -f1")
        XCTAssertEqual(configured.stdout, "fuse.swctr-overlay\n", configured.stderr)

        let before = state.swctr("ps", "-a", "-q").stdout
        let bad = state.swctr("run", "--rm", "--storage-driver", "zfs", state.image("debian"), "true")
        XCTAssertEqual(bad.status, 125)
        XCTAssertEqual(bad.stderrLines, ["swctr: unknown storage driver \"zfs\" (from --storage-driver): use overlay, fuse-overlay or copy"])
        state.extraEnvironment = ["SWCTR_STORAGE_DRIVER=btrfs"]
        let badEnvironment = state.swctr("create", state.image("debian"), "true")
        XCTAssertEqual(badEnvironment.status, 125)
        XCTAssertTrue(badEnvironment.stderr.contains("(from $SWCTR_STORAGE_DRIVER)"), badEnvironment.stderr)
        XCTAssertEqual(state.swctr("ps", "-a", "-q").stdout, before, "nothing made")
    }

    func testInfoSaysWhichDriverAndWhy() {
        state.extraEnvironment = []
        let info = state.swctr("info")
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(info.stdout.contains("driver: overlay"), info.stdout)
        XCTAssertTrue(info.stdout.contains("probed: the kernel overlay (userxattr) works"), info.stdout)
        state.extraEnvironment = ["SWCTR_STORAGE_DRIVER=fuse-overlay"]
        let forced = state.swctr("info")
        XCTAssertTrue(forced.stdout.contains("driver: fuse-overlay ($SWCTR_STORAGE_DRIVER=fuse-overlay)"), forced.stdout)
    }

    /// dpkg -i of a package built here, dpkg --verify of every installed file, and a copy of /usr
    /// compared with the original: a real write-heavy workload on the FUSE overlay.
    func testRealWorkloadOnTheFuseOverlay() throws {
        let package = state.scratch + "/pkg"
        try FileManager.default.createDirectory(atPath: package + "/DEBIAN", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: package + "/usr/bin", withIntermediateDirectories: true)
        try "Package: swctr-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: swctr tests <tests@swctr.invalid>\nDescription: test package\n"
            .write(toFile: package + "/DEBIAN/control", atomically: true, encoding: .utf8)
        try "#!/bin/sh\necho hello from a package\n".write(toFile: package + "/usr/bin/swctr-hello", atomically: true, encoding: .utf8)
        TestHost.execute(["/bin/chmod", "0755", package + "/usr/bin/swctr-hello"])
        let built = TestHost.execute(["/usr/bin/dpkg-deb", "--root-owner-group", "--build", package, state.scratch + "/hello.deb"])
        XCTAssertEqual(built.status, 0, built.stderr)
        TestHost.execute(["/bin/chmod", "a+r", state.scratch + "/hello.deb"])
        state.extraEnvironment = ["SWCTR_STORAGE_DRIVER=fuse-overlay"]
        let script = """
            set -e
            dpkg -i /pkgs/hello.deb >/dev/null
            swctr-hello
            dpkg -s swctr-hello | grep '^Status'
            # The image itself lacks apt's lists/partial (debootstrap removes it): the same on every driver.
            test -z "$(dpkg --verify | grep -v ' /var/lib/apt/lists/partial$')" && echo verified
            cp -a /usr /usr-copy && diff -r --no-dereference /usr /usr-copy && echo copies-equal
            rm -rf /usr-copy && echo removed
            dpkg -r swctr-hello >/dev/null && test ! -e /usr/bin/swctr-hello && echo uninstalled
            """
        let result = state.swctr("run", "--rm", "--network", "none", "-v", "\(state.scratch)/hello.deb:/pkgs/hello.deb:ro", state.image("debian"), "bash", "-c", script)
        XCTAssertEqual(result.stdout, "hello from a package\nStatus: install ok installed\nverified\ncopies-equal\nremoved\nuninstalled\n", result.stderr)
        XCTAssertEqual(result.status, 0)
    }

    func testNoServerOrMountOutlivesItsContainer() throws {
        state.extraEnvironment = ["SWCTR_STORAGE_DRIVER=fuse-overlay"]
        // Exits by itself.
        XCTAssertEqual(state.swctr("run", "--rm", "--network", "none", state.image("debian"), "true").status, 0)
        XCTAssertEqual(fuseServers(), [])
        // Killed.
        let detached = state.swctr("run", "-d", "--network", "none", state.image("debian"), "sleep", "100")
        XCTAssertEqual(detached.status, 0, detached.stderr)
        let id = detached.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(fuseServers().count, 1, "one server while it runs")
        XCTAssertEqual(state.swctr("kill", id).status, 0)
        XCTAssertEqual(state.swctr("wait", id).stdout, "137\n")
        XCTAssertEqual(fuseServers(), [])
        XCTAssertEqual(state.swctr("rm", id).status, 0)
        // Its monitor (swctr's parent side) SIGKILLed: the container and the server go with it.
        let second = state.swctr("run", "-d", "--network", "none", state.image("debian"), "sleep", "100")
        let secondID = second.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let monitor = TestHost.execute(["/usr/bin/pgrep", "-u", state.user, "-f", "__monitor \(secondID)"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertFalse(monitor.isEmpty)
        TestHost.execute(["/bin/kill", "-KILL", monitor])
        var left = fuseServers()
        for _ in 0..<50 where !left.isEmpty {
            usleep(100_000)
            left = fuseServers()
        }
        XCTAssertEqual(left, [], "the server dies with its parent")
        XCTAssertEqual(fuseMountsAnywhere(), 0, "no FUSE overlay mounted anywhere")
        _ = state.swctr("rm", "-f", secondID)
    }

    /// `swctr fuse-overlay`, the overlay as a tool with fuse-overlayfs' command line: it returns
    /// once the overlay is mounted, its server serves it from the background, and the server ends
    /// when it is unmounted. Wrong options: status 2 and what to give.
    func testTheFuseOverlayToolMountsInTheBackgroundUntilUnmounted() {
        let result = state.shell("""
            cd "$XDG_RUNTIME_DIR" && mkdir tool && cd tool && mkdir top bottom upper work merged
            echo top > top/a; echo bottom > bottom/a; echo only-below > bottom/b
            unshare -Urm sh -c '
                "$SWCTR" fuse-overlay -o lowerdir=top:bottom,upperdir=upper,workdir=work merged; echo "mounted $?"
                mountpoint -q merged && echo "a mount point"
                cat merged/a merged/b; echo new > merged/c; ls upper
                umount merged; echo "unmounted $?"'
            "$SWCTR" fuse-overlay -o lowerdir=top merged; echo "no upper $?"
            """)
        XCTAssertEqual(result.stdout, "mounted 0\na mount point\ntop\nonly-below\nc\nunmounted 0\nno upper 2\n", result.stderr)
        XCTAssertEqual(result.stderr,
                       "swctr fuse-overlay: -o upperdir=DIR,workdir=DIR are required — see swctr fuse-overlay --help\n")
        XCTAssertEqual(processes(withEnvironmentContaining: "XDG_RUNTIME_DIR=\(state.runtimeDir)"), [],
                       "the server ends with its mount")
    }
}
