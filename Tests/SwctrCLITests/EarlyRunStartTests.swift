@testable import SwctrCLI
import RuntimeSpec
import XCTest

/// The guess `swctr run` makes from its raw arguments before parsing them, to begin its
/// container's namespaces early.
final class EarlyRunStartTests: XCTestCase {
    func testAForegroundRunIsGuessed() {
        XCTAssertTrue(EarlyRunStart.looksLikeForegroundRun(["run", "--rm", "--network", "none", "alpine", "true"]))
        XCTAssertTrue(EarlyRunStart.looksLikeForegroundRun(["run", "-it", "alpine", "sh"]))
        XCTAssertTrue(EarlyRunStart.looksLikeForegroundRun(["run", "--network=host", "alpine"]))
    }

    func testWhatAsksForSomethingElseIsNot() {
        for arguments in [
            ["ps"], ["run"], ["run", "-d", "alpine"], ["run", "-dit", "alpine", "sh"], ["run", "--detach", "alpine"],
            ["run", "--detach=true", "alpine"], ["run", "--userns=keep-id", "alpine"], ["run", "--userns", "keep-id", "alpine"],
            ["run", "--network", "container:web", "alpine"], ["run", "--net=container:web", "alpine"],
            ["run", "--help"], ["run", "-h"],
        ] {
            XCTAssertFalse(EarlyRunStart.looksLikeForegroundRun(arguments), "\(arguments)")
        }
    }

    func testNamespacesBegunEarlyFitOnlyTheUsualMapsAndAnOwnOrNoNetwork() {
        XCTAssertTrue(EarlyRunStart.fits(keepUserID: false, network: .none))
        XCTAssertTrue(EarlyRunStart.fits(keepUserID: false, network: .default))
        XCTAssertTrue(EarlyRunStart.fits(keepUserID: false, network: .host))
        XCTAssertFalse(EarlyRunStart.fits(keepUserID: true, network: .none))
        XCTAssertFalse(EarlyRunStart.fits(keepUserID: false, network: .container("web")))
    }
}
