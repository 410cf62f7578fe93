import Rootfs
import SystemSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The layer of /etc mount points that containers' overlays get on top of their image.
final class MountPointLayerTests: XCTestCase {
    var scratch = ""

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.path + "/mount-point-layer-" + FileSystem.randomHex(bytes: 4)
        try FileSystem.makeDirectories(scratch + "/tmp")
    }

    override func tearDown() {
        try? FileSystem.removeTree(scratch)
    }

    func layer(_ name: String, etc: String?) throws -> String {
        let path = scratch + "/" + name
        try FileSystem.makeDirectories(path)
        switch etc {
        case "directory": try FileSystem.makeDirectories(path + "/etc")
        case "symlink": XCTAssertEqual(symlink("usr/etc", path + "/etc"), 0)
        case "file": try FileSystem.writeNew(path + "/etc", [])
        default: break
        }
        return path
    }

    func testMadeOnceWithTheThreeEmptyFilesAndNothingLeftInTemp() throws {
        let layer = MountPointLayer(path: scratch + "/mount-points")
        try layer.ensure(temporaryDirectory: scratch + "/tmp")
        try layer.ensure(temporaryDirectory: scratch + "/tmp")
        for file in MountPointLayer.files {
            var info = stat()
            XCTAssertEqual(lstat(layer.path + "/" + file, &info), 0, file)
            XCTAssertEqual(info.st_mode & S_IFMT, S_IFREG, file)
            XCTAssertEqual(info.st_size, 0, file)
        }
        XCTAssertEqual(try FileSystem.listDirectory(layer.path), ["etc"])
        XCTAssertEqual(try FileSystem.listDirectory(scratch + "/tmp"), [])
    }

    func testFitsOnlyWhereTheImagesEtcIsADirectoryOrAbsent() throws {
        let none = try layer("none", etc: nil)
        let directory = try layer("dir", etc: "directory")
        let link = try layer("link", etc: "symlink")
        let file = try layer("file", etc: "file")
        XCTAssertTrue(MountPointLayer.fits(over: []))
        XCTAssertTrue(MountPointLayer.fits(over: [none]))
        XCTAssertTrue(MountPointLayer.fits(over: [link, directory, none]), "the topmost /etc decides")
        XCTAssertFalse(MountPointLayer.fits(over: [directory, link]), "an /etc symlink would be hidden")
        XCTAssertFalse(MountPointLayer.fits(over: [directory, file, none]))
    }
}

/// Removal of a container's or a layer's tree.
final class RemoveTreeTests: XCTestCase {
    func testRemovesModeZeroDirectoriesAndNeverFollowsSymlinks() throws {
        let scratch = FileManager.default.temporaryDirectory.path + "/remove-tree-" + FileSystem.randomHex(bytes: 4)
        let outside = scratch + "-outside"
        try FileSystem.makeDirectories(outside)
        defer { try? FileSystem.removeTree(outside) }
        try FileSystem.writeNew(outside + "/keep", Array("kept".utf8))
        let tree = scratch + "/work/work/incompat/volatile"
        try FileSystem.makeDirectories(tree)
        try FileSystem.writeNew(tree + "/dirty", [])
        XCTAssertEqual(symlink(outside, scratch + "/link-to-dir"), 0)
        XCTAssertEqual(symlink(outside + "/keep", scratch + "/work/link-to-file"), 0)
        for directory in [tree, scratch + "/work/work/incompat", scratch + "/work/work"] { XCTAssertEqual(chmod(directory, 0), 0) }

        try FileSystem.removeTree(scratch)
        XCTAssertFalse(FileSystem.exists(scratch))
        XCTAssertEqual(try FileSystem.readText(outside + "/keep"), "kept")
        try FileSystem.removeTree(scratch)  // gone already: nothing to do
    }

    func testAFileIsRemovedAndASymlinkRootIsNotFollowed() throws {
        let scratch = FileManager.default.temporaryDirectory.path + "/remove-tree-" + FileSystem.randomHex(bytes: 4)
        try FileSystem.makeDirectories(scratch)
        defer { try? FileSystem.removeTree(scratch) }
        try FileSystem.writeNew(scratch + "/file", [1])
        XCTAssertEqual(symlink(scratch, scratch + "/self"), 0)
        try FileSystem.removeTree(scratch + "/file")
        try FileSystem.removeTree(scratch + "/self")
        XCTAssertEqual(try FileSystem.listDirectory(scratch), [])
    }
}
