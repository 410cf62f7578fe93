// Nothing to call: archive_acl_loader.c defines libacl's functions for libarchive to link against.
#pragma once
