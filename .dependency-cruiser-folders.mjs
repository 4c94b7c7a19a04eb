/**
 * The folder-cycle rule, run apart from the file rules for one reason: dependency-cruiser's list of
 * known violations covers file rules only. Cycles through src/ledger and src/incident
 * (slack ↔ ledger, response → slack → ledger → response) are being removed with the incident core;
 * until then those two folders are left out of this check, and only of this one.
 * Once they are gone: move `noFolderCycle` into .dependency-cruiser.mjs and delete this file.
 */
import { noFolderCycle, options } from "./.dependency-cruiser.mjs";

export default {
  forbidden: [noFolderCycle],
  options: { ...options, exclude: { path: "^(dist|\\.wrangler|src/ledger|src/incident)/" } },
};
