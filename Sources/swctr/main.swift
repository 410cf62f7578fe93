// swctr's entry point. Internal roles (re-executions of this binary that users never type) are
// dispatched before argument parsing; by then the pre-exec stage in CNamespaces has already put
// the process in its namespaces.
import Containers
import FuseOverlay
import HostCheck
import Network
import Runtime
import SwctrCLI

import CNamespaces

// The arguments as the C runtime passed them: a role that joined a container's mount namespace
// cannot read them from /proc/self any more.
let arguments: [String] = {
    guard let argv = swctr_saved_argv() else { return CommandLine.arguments }
    return (0..<Int(swctr_saved_argc())).map { argv[$0].map { String(cString: $0) } ?? "" }
}()
if arguments.count >= 2 {
    let roleArguments = Array(arguments.dropFirst(2))
    switch arguments[1] {
    case ContainerInitRole.name:
        ContainerInit.main(specPath: roleArguments.first ?? "")
    case ContainerMonitor.roleName:
        ContainerMonitor.main(arguments: roleArguments)
    case ContainerCopyRole.roleName:
        ContainerCopyRole.main(arguments: roleArguments)
    case ContainerLayerRole.roleName:
        ContainerLayerRole.main(arguments: roleArguments)
    case ContainerExec.roleName:
        ContainerExec.main(processJSON: roleArguments.first ?? "", program: roleArguments.count > 1 ? roleArguments[1] : "")
    case NetworkHelper.roleName:
        NetworkHelper.main(arguments: roleArguments)
    case UserNamespaceTools.unpackRole:
        UserNamespaceTools.unpackRoleMain(roleArguments)
    case UserNamespaceTools.removeRole:
        UserNamespaceTools.removeRoleMain(roleArguments)
    case FuseOverlayProcess.roleName:
        FuseOverlayProcess.main(arguments: roleArguments)
    case RootfsCopy.roleName:
        RootfsCopy.main(arguments: roleArguments)
    case FuseOverlayTool.commandName:
        FuseOverlayTool.main(arguments: roleArguments)
    case HostProbeRole.name:
        HostProbeRole.main(arguments: roleArguments)
    default:
        break
    }
}
// The common forms of `run` are parsed without swift-argument-parser. Otherwise a foreground
// `run` begins the rest of what it can while its arguments are parsed. Either way, what looks like
// a foreground `run` begins its container's namespaces first of all.
let commandArguments = Array(arguments.dropFirst())
let fromProcess = swctr_saved_argv() != nil
let namespacesBegun = EarlyRunStart.beginNamespaces(commandArguments, processArguments: fromProcess)
if !Swctr.runDirectlyParsedRun(commandArguments, early: namespacesBegun),
   !Swctr.runStandaloneCommand(commandArguments, early: EarlyRunStart.begin(commandArguments, processArguments: fromProcess, after: namespacesBegun)) {
    Swctr.main()
}
