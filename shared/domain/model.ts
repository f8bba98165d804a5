/**
 * AI models as a lab's container registry holds them: one repository per model, one tag per
 * version, each tag an image (one platform) or an index (several: arm64 Jetsons and Pis,
 * amd64 servers). docs/models.md lists the labels edgefleet reads.
 */

/** The OCI annotation keys (image config labels) edgefleet reads for every image. */
export const OCI_LABELS = {
  title: 'org.opencontainers.image.title',
  description: 'org.opencontainers.image.description',
  version: 'org.opencontainers.image.version',
  created: 'org.opencontainers.image.created',
} as const;

/** edgefleet's own labels, describing what the model does (docs/models.md). */
export const MODEL_LABELS = {
  /** What the model does: `object-detection`, `image-classification`, `speech-to-text`, … */
  task: 'io.edgefleet.model.task',
  /** Runtime it needs: `onnxruntime`, `tensorrt`, `tflite`, `pytorch`, … */
  framework: 'io.edgefleet.model.framework',
  /** What it takes, free text: `image/jpeg 640x640`, `float32[1,3,224,224]`. */
  input: 'io.edgefleet.model.input',
  /** What it gives, free text: `boxes+classes (COCO 80)`. */
  output: 'io.edgefleet.model.output',
} as const;

/** One platform an image runs on, with the size of what a node of that platform pulls. */
export interface ModelPlatform {
  /** `linux/arm64`, `linux/arm64/v8`, `linux/amd64`. */
  platform: string;
  os: string;
  architecture: string;
  variant?: string;
  /** The platform's image manifest. */
  digest: string;
  /** Layers plus config, bytes (compressed, as pulled). */
  sizeBytes: number;
}

/** What a tag holds, as read from the registry. */
export interface ModelImage {
  repository: string;
  tag: string;
  /** Of the tag's manifest (Docker-Content-Digest, checked against the body). */
  digest: string;
  mediaType: string;
  platforms: ModelPlatform[];
  /** The largest platform's size (layers + config): what one node pulls at most. */
  sizeBytes: number;
  /** `org.opencontainers.image.created`, else the config's `created`. */
  createdUnixSeconds?: number;
  title?: string;
  /** The image's own `org.opencontainers.image.description`. */
  description?: string;
  version?: string;
  task?: string;
  framework?: string;
  input?: string;
  output?: string;
  /** Every label of the config (index/manifest annotations under them). */
  labels: Record<string, string>;
}
