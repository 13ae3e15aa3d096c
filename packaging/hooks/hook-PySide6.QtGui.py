"""PySide6.QtGui for Patchdesk's bundle: PyInstaller's own hook, minus the plugins a console never uses.

Takes precedence over PyInstaller's hook of the same name (build.spec passes this folder as
``hookspath``). Dropping the plugins *here*, before the analysis, matters: their libraries never get
collected. The virtual keyboard input context would pull in QtQuick and QtQml (~17 MB); the GTK 3
platform theme would bundle the build machine's GTK, cairo and pango, which then clash with the
site's own GTK modules; EGLFS, linuxfb, VNC and Vulkan-display platforms are for kiosks.
"""

import re

from PyInstaller.utils.hooks.qt import add_qt6_dependencies

UNUSED = re.compile(
    r"plugins[/\\]("
    r"platforms[/\\][^/\\]*(eglfs|linuxfb|vnc|vkkhrdisplay|minimalegl)[^/\\]*"
    r"|egldeviceintegrations[/\\].*"
    r"|platforminputcontexts[/\\][^/\\]*virtualkeyboard[^/\\]*"
    r"|platformthemes[/\\][^/\\]*gtk[^/\\]*"
    r"|imageformats[/\\][^/\\]*(pdf|tiff|webp|icns|tga|wbmp)[^/\\]*"
    r"|generic[/\\].*"
    r")$",
    re.I,
)

hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
# (src, dest-folder) pairs: match on the source path's file below its plugins/ folder.
binaries = [b for b in binaries if not UNUSED.search(str(b[0]))]
