import Foundation
import XCTest

/// What a container may and may not do: capabilities, seccomp, no_new_privs, masked and
/// read-only paths, --privileged, users and groups, rlimits, and escapes tried from inside.
final class RuntimeSecurityTests: SwctrTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        for name in ["busybox", "probe"] {
            let pulled = state.swctr("pull", "-q", state.image(name))
            XCTAssertEqual(pulled.status, 0, pulled.stderr)
        }
    }

    /// The /proc/self/status lines of a container's process, by field.
    func status(_ flags: String...) -> [String: String] {
        let result = state.swctr(arguments: ["run", "--rm"] + flags + [state.image("busybox"), "cat", "/proc/self/status"])
        XCTAssertEqual(result.status, 0, result.stderr)
        var fields: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return fields
    }

    func probe(_ flags: [String] = [], _ check: String = "all") -> CommandResult {
        state.swctr(arguments: ["run", "--rm"] + flags + [state.image("probe"), "probe", check])
    }

    static var allCapabilities: String {
        let last = Int((try? String(contentsOfFile: "/proc/sys/kernel/cap_last_cap", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "40") ?? 40
        return String(format: "%016llx", (UInt64(1) << UInt64(last + 1)) - 1)
    }

    func testDefaultContainerHasDockersCapabilitiesAndASeccompFilter() {
        let fields = status()
        XCTAssertEqual(fields["CapEff"], "00000000a80425fb", "Docker's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP")
        XCTAssertEqual(fields["CapBnd"], "00000000a80425fb")
        XCTAssertEqual(fields["CapInh"], "0000000000000000")
        XCTAssertEqual(fields["Seccomp"], "2", "filter mode")
        XCTAssertEqual(fields["NoNewPrivs"], "0", "off by default, as in Docker: setuid programs inside keep working")
    }

    func testExecGetsTheContainersConfinement() {
        let started = state.swctr("run", "-d", "--name", "confined", "--security-opt", "no-new-privileges", "--cap-drop", "NET_RAW",
                                  state.image("busybox"), "sleep", "30")
        XCTAssertEqual(started.status, 0, started.stderr)
        let result = state.swctr("exec", "confined", "grep", "-E", "^(CapEff|Seccomp|NoNewPrivs):", "/proc/self/status")
        XCTAssertEqual(result.stdout.replacingOccurrences(of: "\t", with: " "),
                       "CapEff: 00000000a80405fb\nNoNewPrivs: 1\nSeccomp: 2\n", result.stderr)
        let refused = state.swctr("exec", "confined", "mount", "-t", "tmpfs", "none", "/tmp")
        XCTAssertNotEqual(refused.status, 0)
    }

    /// Whatever swctr's caller left it (ignored and blocked signals, open descriptors), the
    /// container's process starts clean, on both ways its init is started: forked from a
    /// single-threaded `swctr run`, and spawned by a detached container's monitor.
    func testTheContainersProcessInheritsNoSignalsOrDescriptorsFromTheCaller() {
        let script = "grep -E '^Sig(Ign|Blk):' /proc/self/status; ls /proc/self/fd | sort -n | tr '\\n' ' '"
        let caller = """
            trap '' INT HUP USR1 PIPE; exec 7</etc/passwd 9>/dev/null
            "$SWCTR" run --rm \(state.image("busybox")) sh -c "\(script)"
            """
        let foreground = state.shell(caller)
        XCTAssertEqual(foreground.status, 0, foreground.stderr)
        // ls has its own directory fd open (3).
        XCTAssertEqual(foreground.stdout.replacingOccurrences(of: "\t", with: " "),
                       "SigBlk: 0000000000000000\nSigIgn: 0000000000000000\n0 1 2 3 ", foreground.stderr)
        let detached = state.shell("""
            trap '' INT HUP USR1 PIPE; exec 7</etc/passwd 9>/dev/null
            "$SWCTR" run -d --name clean \(state.image("busybox")) sh -c "\(script)" >/dev/null && "$SWCTR" wait clean >/dev/null && "$SWCTR" logs clean
            """)
        XCTAssertEqual(detached.status, 0, detached.stderr)
        XCTAssertTrue(detached.stdout.replacingOccurrences(of: "\t", with: " ")
                        .hasPrefix("SigBlk: 0000000000000000\nSigIgn: 0000000000000000\n0 1 2 3"), detached.stdout + detached.stderr)
    }

    func testNoNewPrivilegesOption() {
        XCTAssertEqual(status("--security-opt", "no-new-privileges")["NoNewPrivs"], "1")
        XCTAssertEqual(status("--security-opt", "no-new-privileges=false")["NoNewPrivs"], "0")
    }

    func testANonRootUserGetsNoEffectiveCapabilities() {
        let fields = status("-u", "daemon")
        XCTAssertEqual(fields["CapEff"], "0000000000000000")
        XCTAssertEqual(fields["CapBnd"], "00000000a80425fb")
    }

    func testCapAddAndCapDrop() {
        XCTAssertEqual(status("--cap-drop", "ALL", "--cap-add", "chown")["CapEff"], "0000000000000001")
        XCTAssertEqual(status("--cap-drop", "NET_RAW", "--cap-drop", "CAP_MKNOD")["CapEff"], "00000000a00405fb")
        XCTAssertEqual(status("--cap-add", "ALL")["CapEff"], Self.allCapabilities)
        let mounted = probe(["--cap-add", "SYS_ADMIN"], "mount")
        XCTAssertEqual(mounted.stdout, "mount: ok\n", "CAP_SYS_ADMIN also opens the seccomp rules that need it: \(mounted.stderr)")
        let bad = state.swctr("run", "--rm", "--cap-add", "FLY", state.image("busybox"), "true")
        XCTAssertEqual(bad.status, 125)
        XCTAssertTrue(bad.stderr.contains("unknown capability \"FLY\""), bad.stderr)
        XCTAssertEqual(state.swctr("ps", "-aq").stdout, "", "nothing left by the refused run")
    }

    func testDangerousCallsAreRefusedByDefault() {
        let result = probe()
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "mount: EPERM\nunshare-user: EPERM\nkeyctl: EPERM\nptrace-foreign: EPERM\n")
    }

    func testPrivilegedLiftsWhatAUserNamespaceAllows() {
        let result = probe(["--privileged"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "mount: ok\nunshare-user: ok\nkeyctl: ok\nptrace-foreign: ok\n")
        let fields = status("--privileged")
        XCTAssertEqual(fields["Seccomp"], "0")
        XCTAssertEqual(fields["CapEff"], Self.allCapabilities)
        let uidMap = state.swctr("run", "--rm", "--privileged", state.image("busybox"), "cat", "/proc/self/uid_map")
        XCTAssertFalse(uidMap.stdout.contains("4294967295"), "still inside the user namespace: \(uidMap.stdout)")
    }

    func testSeccompUnconfinedAndAProfileFile() throws {
        XCTAssertEqual(status("--security-opt", "seccomp=unconfined")["Seccomp"], "0")
        let profile = state.scratch + "/no-mkdir.json"
        try #"""
        {"defaultAction": "SCMP_ACT_ALLOW",
         "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
         "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
        """#.write(toFile: profile, atomically: true, encoding: .utf8)
        chmod(profile, 0o644)
        let blocked = state.swctr("run", "--rm", "--security-opt", "seccomp=" + profile, state.image("busybox"), "sh", "-c",
                                  "mkdir /newdir; echo rc=$?; touch /file && echo touched")
        XCTAssertEqual(blocked.stdout, "rc=1\ntouched\n")
        XCTAssertTrue(blocked.stderr.contains("Permission denied"), "errnoRet 13 is EACCES: \(blocked.stderr)")

        let broken = state.scratch + "/broken.json"
        try #"{"defaultAction": "SCMP_ACT_EXPLODE"}"#.write(toFile: broken, atomically: true, encoding: .utf8)
        chmod(broken, 0o644)
        let refused = state.swctr("run", "--rm", "--security-opt", "seccomp=" + broken, state.image("busybox"), "true")
        XCTAssertEqual(refused.status, 125)
        XCTAssertTrue(refused.stderr.contains("invalid seccomp profile: unknown defaultAction \"SCMP_ACT_EXPLODE\""), refused.stderr)
        let missing = state.swctr("run", "--rm", "--security-opt", "seccomp=/nonexistent.json", state.image("busybox"), "true")
        XCTAssertEqual(missing.status, 125)
        XCTAssertTrue(missing.stderr.contains("cannot read the seccomp profile /nonexistent.json"), missing.stderr)
        let unknown = state.swctr("run", "--rm", "--security-opt", "wings=on", state.image("busybox"), "true")
        XCTAssertEqual(unknown.status, 125)
        XCTAssertTrue(unknown.stderr.contains("unsupported --security-opt"), unknown.stderr)
    }

    func testMaskedPathsReadEmptyAndKernelSettingsAreReadOnly() {
        let result = state.swctr("run", "--rm", state.image("busybox"), "sh", "-c", """
            wc -c < /proc/keys; wc -c < /proc/timer_list; ls -A /sys/firmware | wc -l
            echo swctr > /proc/sys/kernel/domainname; echo sys=$?
            echo h > /proc/sysrq-trigger; echo sysrq=$?
            """)
        XCTAssertEqual(result.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }, ["0", "0", "0", "sys=1", "sysrq=1"])
        XCTAssertTrue(result.stderr.contains("Read-only file system"), result.stderr)
        let privileged = state.swctr("run", "--rm", "--privileged", state.image("busybox"), "sh", "-c", "ls -A /sys/firmware | wc -l")
        XCTAssertNotEqual(privileged.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "", "--privileged masks nothing")
    }

    func testUserResolvedFromTheImageWithGroupsAndGroupAdd() {
        let app = state.swctr("run", "--rm", "-u", "app", state.image("probe"), "id")
        XCTAssertEqual(app.stdout, "uid=1000(app) gid=1000(app) groups=29(audio)\n", app.stderr)
        let added = state.swctr("run", "--rm", "-u", "app", "--group-add", "staff", "--group-add", "7", state.image("probe"), "id", "-G")
        XCTAssertEqual(added.stdout, "1000 7 29 50\n", added.stderr)
        let numeric = state.swctr("run", "--rm", "-u", "1:29", state.image("probe"), "id")
        XCTAssertEqual(numeric.stdout, "uid=1(daemon) gid=29(audio)\n", numeric.stderr)
        let unknown = state.swctr("run", "--rm", "--group-add", "wizards", state.image("probe"), "id")
        XCTAssertEqual(unknown.status, 125)
        XCTAssertTrue(unknown.stderr.contains("group \"wizards\" is not in the container's /etc/group"), unknown.stderr)
    }

    func testUlimits() {
        let result = state.swctr("run", "--rm", "--ulimit", "nofile=100:200", "--ulimit", "core=0", state.image("busybox"), "sh", "-c",
                                 "ulimit -n; ulimit -Hn; ulimit -c")
        XCTAssertEqual(result.stdout, "100\n200\n0\n", result.stderr)
        let tooHigh = state.swctr("run", "--rm", "--ulimit", "nofile=1024:4000000000", state.image("busybox"), "true")
        XCTAssertEqual(tooHigh.status, 125)
        XCTAssertTrue(tooHigh.stderr.contains("--ulimit nofile: cannot raise the hard limit above"), tooHigh.stderr)
        let bad = state.swctr("run", "--rm", "--ulimit", "files=10", state.image("busybox"), "true")
        XCTAssertEqual(bad.status, 125)
        XCTAssertTrue(bad.stderr.contains("unknown --ulimit \"files\""), bad.stderr)
    }

    func testEnvFile() throws {
        let file = state.scratch + "/app.env"
        try "# settings\nGREETING=hello world\n\n  SPACED=kept as is\nFROM_HOST\nEMPTY=\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o644)
        let result = state.swctr("run", "--rm", "--env-file", file, "-e", "GREETING=overridden by -e", state.image("busybox"), "sh", "-c",
                                 "echo \"$GREETING|$SPACED|${FROM_HOST-unset}|${EMPTY-unset}\"")
        XCTAssertEqual(result.stdout, "overridden by -e|kept as is|unset|\n", result.stderr)
        try "BAD NAME=1\n".write(toFile: file, atomically: true, encoding: .utf8)
        let bad = state.swctr("run", "--rm", "--env-file", file, state.image("busybox"), "true")
        XCTAssertEqual(bad.status, 125)
        XCTAssertTrue(bad.stderr.contains("invalid line 1 in --env-file"), bad.stderr)
    }

    func testReadOnlyRootAndTmpfs() {
        let result = state.swctr("run", "--rm", "--read-only", "--tmpfs", "/scratch:size=1m,mode=1777", state.image("busybox"), "sh", "-c", """
            touch /file; echo root=$?; touch /scratch/file && echo scratch-ok; echo x > /dev/shm/x && echo shm-ok
            stat -c %a /scratch; grep ' /scratch ' /proc/mounts | grep -o 'size=[0-9a-z]*'
            """)
        XCTAssertEqual(result.stdout, "root=1\nscratch-ok\nshm-ok\n1777\nsize=1024k\n", result.stderr)
        XCTAssertTrue(result.stderr.contains("Read-only file system"), result.stderr)
    }

    // MARK: - Init and signals

    func testInitForwardsTERMAndExitsAs143() {
        let result = state.shell("""
            "$SWCTR" run --rm --init \(state.image("busybox")) sleep 100 & pid=$!
            sleep 1; kill -TERM $pid; wait $pid; echo "exit=$?"
            """)
        XCTAssertEqual(result.stdout, "exit=143\n", result.stderr)
    }

    func testWithoutInitPid1RunsItsOwnTermHandler() {
        let result = state.shell("""
            "$SWCTR" run --rm \(state.image("busybox")) sh -c 'trap "echo trapped; exit 7" TERM; while :; do sleep 0.1; done' & pid=$!
            sleep 1; kill -TERM $pid; wait $pid; echo "exit=$?"
            """)
        XCTAssertEqual(result.stdout, "trapped\nexit=7\n", result.stderr)
    }

    func testInitReapsOrphanedZombies() {
        // The subshell exits at once, its sleep is orphaned to pid 1 and ends 0.2 s later.
        let script = "(sleep 0.2 &); sleep 1; ps -o stat= | grep -c '^Z'"
        let withInit = state.swctr("run", "--rm", "--init", state.image("busybox"), "sh", "-c", script)
        XCTAssertEqual(withInit.stdout, "0\n", "no zombie under --init: \(withInit.stderr)")
        let ps = state.swctr("run", "--rm", "--init", state.image("busybox"), "ps", "-o", "pid=,comm=")
        XCTAssertTrue(ps.stdout.contains("1 exe") || ps.stdout.contains("1 swctr"), "pid 1 is swctr's init: \(ps.stdout)")
    }

    // MARK: - Hosts without subordinate ids

    func testSingleIDFallbackWarnsAndRuns() throws {
        guard let other = TestHost.environment["SWCTR_TEST_NOSUB_USER"] else { throw XCTSkip("no user without subordinate ids (setup runs as root)") }
        let nosub = try SwctrUser(otherUser: other)
        defer { nosub.cleanUp() }
        let result = nosub.swctr("run", "--rm", state.image("busybox"), "sh", "-c", "id -u; cat /proc/self/uid_map")
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        XCTAssertEqual(lines.first, "0")
        XCTAssertEqual(lines.count, 2, "one mapping line only: \(result.stdout)")
        XCTAssertTrue(lines[1].hasSuffix(" 1"), "a single id: \(lines[1])")
        let warnings = result.stderrLines.filter { $0.contains("warning:") }
        XCTAssertEqual(warnings.count, 1, result.stderr)
        XCTAssertTrue(warnings[0].contains("no subordinate ids for \(other)") && warnings[0].contains("usermod --add-subuids"), warnings[0])
    }

    /// A foreground run remembers its id-map helpers and ranges in the runtime directory, and the
    /// next run's constructor starts the helpers from that file before swctr's own code runs. The
    /// file decides the maps only while what they were worked out from is unchanged (its last
    /// line): a stale one is replaced and the container maps as it should, and a program it names
    /// that root does not own is never run.
    func testRememberedIDMapHelpersAreCheckedBeforeTheyAreUsed() throws {
        let file = state.runtimeDir + "/swctr/id-map-helpers"
        func uidMap() -> String {
            let result = state.swctr("run", "--rm", "--network", "none", state.image("busybox"), "cat", "/proc/self/uid_map")
            XCTAssertEqual(result.status, 0, result.stderr)
            return result.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }.joined(separator: "\n")
        }
        let expected = uidMap()
        XCTAssertTrue(expected.hasPrefix("0 ") && expected.split(separator: "\n").count >= 2, expected)
        let remembered = try String(contentsOfFile: file, encoding: .utf8)
        let lines = remembered.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines.count, 7, remembered)
        XCTAssertEqual(lines.first, "swctr id-map helpers 2")
        XCTAssertTrue(lines[5].hasPrefix("sources fnv1a64:"), remembered)
        XCTAssertTrue(lines[1].hasSuffix("/newuidmap") && lines[3].hasSuffix("/newgidmap"), remembered)
        XCTAssertEqual(lines[2], expected.split(separator: "\n").joined(separator: " "), "the uid ranges, as mapped")
        var info = stat()
        XCTAssertEqual(stat(file, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
        XCTAssertEqual(uidMap(), expected, "a run that started its helpers from the file")

        // Stale ranges that the helpers would accept (root only), from other sources (as after
        // an edit of /etc/subuid): not used, and replaced.
        let ownID = expected.split(separator: " ")[1]
        let stale = "swctr id-map helpers 2\n\(lines[1])\n0 \(ownID) 1\n\(lines[3])\n0 \(ownID) 1\nsources fnv1a64:0000000000000000\n"
        XCTAssertEqual(state.shell("printf '%s' '\(stale)' > '\(file)'").status, 0)
        XCTAssertEqual(uidMap(), expected)
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), remembered)

        // A program of the user's own in place of newuidmap: never run.
        let marker = state.scratch + "/fake-newuidmap-ran"
        let fake = state.scratch + "/fake-newuidmap"
        let planted = remembered.replacingOccurrences(of: lines[1] + "\n", with: fake + "\n")
        XCTAssertEqual(state.shell("printf '#!/bin/sh\\ntouch \(marker)\\n' > '\(fake)' && chmod 755 '\(fake)' && printf '%s' '\(planted)' > '\(file)'").status, 0)
        XCTAssertEqual(uidMap(), expected)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the planted program ran")
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), remembered)
    }

    func testARunWhoseUserNamespaceCannotBeMappedFailsAndLeavesNothing() throws {
        guard TestHost.isRoot else { throw XCTSkip("replacing newuidmap for one command needs root") }
        // A copy without the setuid bit cannot write the map; it replaces newuidmap in a private
        // mount namespace for this one command.
        let copy = state.scratch + "/newuidmap-plain"
        XCTAssertEqual(TestHost.execute(["/bin/cp", "/usr/bin/newuidmap", copy]).status, 0)
        chmod(copy, 0o755)
        let wrapper = ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                       "mount --bind \"$0\" /usr/bin/newuidmap && exec \"$@\"", copy]
        let result = TestHost.execute(wrapper + state.commandLine(["run", "--rm", "--name", "unmapped", state.image("busybox"), "true"]))
        XCTAssertEqual(result.status, 125, result.stderr)
        XCTAssertEqual(result.stderrLines.count, 1, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("swctr: ") && result.stderr.contains("/usr/bin/newuidmap"), result.stderr)
        XCTAssertEqual(state.swctr("ps", "-a", "--filter", "name=unmapped", "-q").stdout, "", "the --rm container is gone")
        // The namespace's holder is a fork of that swctr, with its command line.
        let processes = TestHost.execute(["/usr/bin/pgrep", "-u", state.user, "-a", "-f", "--name unmapped"])
        XCTAssertEqual(processes.stdout, "", "no process of that run is left")
    }

    // MARK: - Escapes

    func testSymlinkedMountDestinationStaysInsideTheRootfs() throws {
        // test/probe has /srv/link-abs -> /tmp/swctr-escape-target and /srv/link-rel -> ../../../../tmp/swctr-escape-target.
        let target = "/tmp/swctr-escape-target"
        try? FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        try "host secret\n".write(toFile: target + "/secret", atomically: true, encoding: .utf8)
        chmod(target, 0o755)
        chmod(target + "/secret", 0o644)
        let source = state.scratch + "/bind"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try "from the bind\n".write(toFile: source + "/inside", atomically: true, encoding: .utf8)
        chmod(source, 0o755)
        chmod(source + "/inside", 0o644)
        for (index, link) in ["/srv/link-abs", "/srv/link-rel"].enumerated() {
            let bound = state.swctr("run", "--rm", "-v", "\(source):\(link)", state.image("probe"), "sh", "-c", "ls \(target)")
            XCTAssertEqual(bound.status, 0, bound.stderr)
            XCTAssertEqual(bound.stdout, "inside\n", "the bind landed on the container's own \(target), not the host's")
            let volume = "escaped-\(index)"
            let copied = state.swctr("run", "--rm", "-v", "\(volume):\(link)", state.image("probe"), "ls", "-A", target)
            XCTAssertEqual(copied.status, 0, copied.stderr)
            XCTAssertEqual(copied.stdout, "", "the host's \(target)/secret was not copied into the new volume")
            let kept = state.swctr("run", "--rm", "-v", "\(volume):/check", state.image("busybox"), "ls", "-A", "/check")
            XCTAssertEqual(kept.stdout, "")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: target), ["secret"], "the host directory is untouched")
    }

    func testContainerCannotWriteAReadOnlyBindMount() throws {
        let source = state.scratch + "/ro"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try "original\n".write(toFile: source + "/file", atomically: true, encoding: .utf8)
        TestHost.execute(["/bin/chown", "-R", state.user, source])
        let result = state.swctr("run", "--rm", "-v", "\(source):/ro:ro", state.image("busybox"), "sh", "-c", """
            echo changed > /ro/file; echo write=$?; touch /ro/new; echo create=$?
            mount -o remount,rw /ro; echo remount=$?; cat /ro/file
            """)
        XCTAssertEqual(result.stdout, "write=1\ncreate=1\nremount=1\noriginal\n", result.stderr)
        XCTAssertEqual(try String(contentsOfFile: source + "/file", encoding: .utf8), "original\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: source), ["file"])
        let mounted = state.swctr("run", "--rm", "--mount", "type=bind,source=\(source),target=/m,readonly", state.image("busybox"), "sh", "-c",
                                  "touch /m/x; echo $?")
        XCTAssertEqual(mounted.stdout, "1\n")
    }

    func testExecCannotOverwriteTheSwctrBinaryThroughProcSelfExe() throws {
        // swctr installed where the user can write it: the case the sealed copy is for.
        let binary = state.scratch + "/swctr-own"
        try FileManager.default.copyItem(atPath: state.binary, toPath: binary)
        TestHost.execute(["/bin/chown", state.user, binary])
        let before = TestHost.execute(["/usr/bin/sha256sum", binary]).stdout
        let started = state.shell("""
            "$SWCTR" run -d --name victim \(state.image("probe")) sh -c \
            'rm /bin/true; printf "#!/proc/self/exe\\n" > /bin/true; chmod +x /bin/true; probe exe-attack 6 > /attack.log 2>&1; sleep 100'
            """, binary: binary)
        XCTAssertEqual(started.status, 0, started.stderr)
        // Wait until the trap is set: /bin/true is the script.
        for _ in 0..<100 where state.shell("\"$SWCTR\" exec victim head -c 2 /bin/true", binary: binary).stdout != "#!" {
            Thread.sleep(forTimeInterval: 0.05)
        }
        for _ in 0..<2 { _ = state.shell("\"$SWCTR\" exec victim /bin/true", binary: binary) }
        var log = ""
        for _ in 0..<80 {
            log = state.shell("\"$SWCTR\" exec victim cat /attack.log", binary: binary).stdout
            if log.contains("exe-attack-write:") || log.contains("no swctr process") { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTAssertFalse(log.contains("exe-attack-write: ok"), "the container wrote through /proc/PID/exe: \(log)")
        XCTAssertEqual(TestHost.execute(["/usr/bin/sha256sum", binary]).stdout, before, "the user's swctr binary is unchanged")
        state.shell("\"$SWCTR\" rm -f victim", binary: binary)
    }
}
