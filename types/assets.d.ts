// Bun imports these as text (`with { type: "text" }`), so the binary carries the schema.
declare module "*.proto" {
  const text: string;
  export default text;
}
