/** dist/ is complete and newer than every file under src/ (or src/ is absent, as in the image). */
export function distIsFresh(root: string): boolean;
