"""Location links: a link texted to a caller whose phone then shares its position, photos and live video."""
