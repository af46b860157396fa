#!/usr/bin/env bash
# Sign "GAN Studio.app" with a Developer ID, put it in a .dmg, notarize and staple it.
# Untested in CI (it needs a Mac, an Apple Developer account and its certificate).
#
#   IDENTITY="Developer ID Application: Your Name (TEAMID)" \
#   PROFILE=ganstudio-notary \
#   bash installer/macos/sign_and_notarize.sh
#
# PROFILE is a notarytool keychain profile made once with:
#   xcrun notarytool store-credentials ganstudio-notary --apple-id YOU --team-id TEAMID
# (it asks for an app-specific password). Without signing, Gatekeeper refuses to open the
# downloaded app; users can still right-click > Open, or run: xattr -cr "GAN Studio.app".
set -euo pipefail
: "${IDENTITY:?set IDENTITY to your Developer ID Application certificate name}"
: "${PROFILE:?set PROFILE to a notarytool keychain profile}"
here=$(cd "$(dirname "$0")" && pwd)
dist="$here/../dist"
app="$dist/GAN Studio.app"
entitlements="$here/entitlements.plist"
version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$here/../../ganstudio/__init__.py")
dmg="$dist/GAN-Studio-$version-macos-$(uname -m).dmg"
sign=(codesign --force --timestamp --options runtime --entitlements "$entitlements" -s "$IDENTITY")

# Inside out: every library and executable first, the bundle last (no --deep: it signs in
# the wrong order and hides failures).
find "$app/Contents" -type f \( -name "*.so" -o -name "*.dylib" -o -perm -u+x \) -print0 |
  while IFS= read -r -d '' f; do
    if file -b "$f" | grep -q "Mach-O"; then "${sign[@]}" "$f"; fi
  done
"${sign[@]}" "$app"
codesign --verify --deep --strict --verbose=2 "$app"

rm -f "$dmg"
hdiutil create -volname "GAN Studio" -srcfolder "$app" -ov -format UDZO "$dmg"
codesign --force --timestamp -s "$IDENTITY" "$dmg"
xcrun notarytool submit "$dmg" --keychain-profile "$PROFILE" --wait
xcrun stapler staple "$dmg"
spctl --assess --type open --context context:primary-signature --verbose "$dmg"
echo "$dmg"
