// Checks every Kubernetes manifest given against the Kubernetes API's schema, as
// kubernetes-models (npm; generated from the API's OpenAPI spec) carries it, with the
// `yaml` package's parser. Fails on a document whose apiVersion/kind it has no model
// for, and on a field the schema does not know (the API server would drop it).
// Usage: node validate.mjs FILE.yaml...
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const models = {
  "v1/Namespace": () => import("kubernetes-models/v1/Namespace"),
  "apps/v1/DaemonSet": () => import("kubernetes-models/apps/v1/DaemonSet"),
};

let failed = 0;
for (const file of process.argv.slice(2)) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  for (const [index, doc] of docs.entries()) {
    const where = `${file} document ${index + 1}`;
    if (doc.errors.length) {
      console.error(`${where}: YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
      failed++;
      continue;
    }
    const object = doc.toJS();
    const key = `${object.apiVersion}/${object.kind}`;
    if (!models[key]) {
      console.error(`${where}: no schema here for ${key}`);
      failed++;
      continue;
    }
    const module = await models[key]();
    const Model = Object.values(module).find((v) => typeof v === "function" && v.name === object.kind);
    try {
      new Model(object).validate();
      console.log(`${where}: ${key} ${object.metadata?.name}: valid`);
    } catch (error) {
      console.error(`${where}: ${key}: ${error.message}`);
      failed++;
    }
  }
}
process.exit(failed ? 1 : 0);
