#!/usr/bin/env bash
# Install GAN Studio for the current user (no root needed), or remove it.
#   ./install.sh                copy to ~/.local/opt/gan-studio, add the menu entry and icon
#   ./install.sh --uninstall    remove all of that again
# PREFIX (default ~/.local) moves everything: PREFIX=/opt/... needs the rights to write there.
set -euo pipefail
prefix=${PREFIX:-$HOME/.local}
data=${XDG_DATA_HOME:-$prefix/share}
dest="$prefix/opt/gan-studio"
bin="$prefix/bin/ganstudio"
desktop="$data/applications/ganstudio.desktop"
icon="$data/icons/hicolor/256x256/apps/ganstudio.png"

# Desktop environments notice new files in ~/.local/share by themselves: no caches are
# written there (a stale one would hide icons installed later).

if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$desktop" "$icon"
  [ -L "$bin" ] && rm -f "$bin"
  rm -rf "$dest"
  echo "GAN Studio removed (your runs, settings and logs are kept)."
  exit 0
fi

src=$(cd "$(dirname "$0")" && pwd)
[ -x "$src/ganstudio" ] || { echo "error: run install.sh from the unpacked folder" >&2; exit 1; }
if [ "$src" != "$dest" ]; then
  rm -rf "$dest.new"
  mkdir -p "$(dirname "$dest")"
  cp -a "$src" "$dest.new"
  rm -rf "$dest"
  mv "$dest.new" "$dest"
fi
mkdir -p "$(dirname "$bin")" "$(dirname "$desktop")" "$(dirname "$icon")"
ln -sfn "$dest/ganstudio" "$bin"
install -m 644 "$dest/ganstudio.png" "$icon"
# The desktop entry with the absolute path of the program (a menu need not search PATH);
# the arguments after it (%F: the files a file manager opens with it) stay.
sed -e "s|^Exec=ganstudio|Exec=\"$dest/ganstudio\"|" -e "s|^TryExec=.*|TryExec=$dest/ganstudio|" \
  "$dest/ganstudio.desktop" > "$desktop"
chmod 644 "$desktop"

echo "GAN Studio installed in $dest"
echo "  menu entry: $desktop"
echo "  command:    $bin"
case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "  (add $prefix/bin to your PATH to type 'ganstudio')";; esac
