; Inno Setup script: GAN Studio's Windows installer (Inno Setup 6.3 or newer).
; Build the bundle first (python installer\build.py), then:
;     iscc /DAppVersion=0.1.0 installer\windows\ganstudio.iss
; (build.py runs that itself when iscc is on the PATH). Output:
;     installer\dist\GAN-Studio-<version>-windows-x86_64-setup.exe
; Installs for the current user by default (no administrator rights); the first page offers
; "all users" too. The uninstaller keeps runs, settings and logs.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef Spanning
  #define Spanning "no"
#endif
#define AppName "GAN Studio"
#define AppExe "ganstudio.exe"
#define Bundle "..\dist\ganstudio"

[Setup]
; A fixed AppId ties upgrades and the uninstaller together: never change it.
AppId={{6C1E5F0A-4F7B-4C2E-9B8E-3A5D2F0C7B41}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=GAN Studio contributors
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir=..\dist
OutputBaseFilename=GAN-Studio-{#AppVersion}-windows-x86_64-setup
SetupIconFile=..\..\resources\icons\ganstudio.ico
UninstallDisplayIcon={app}\{#AppExe}
Compression=lzma2/max
SolidCompression=yes
LZMANumBlockThreads=4
WizardStyle=modern
; A single setup.exe holds at most 2,100,000,000 bytes of compressed data. The CPU bundle is
; far below that; a CUDA bundle is not: pass /DSpanning=yes to write setup-*.bin slices next
; to the .exe (ship them together).
DiskSpanning={#Spanning}
DiskSliceSize=max

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#Bundle}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; An upgrade replaces the bundled libraries wholesale: stale files from an older PyTorch
; or Qt must not linger next to the new ones.
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Train, watch and explore GANs"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
