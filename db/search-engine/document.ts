import type { Product } from '../schema/catalog';

/** What the index stores per sku. `available`/`inStock` lag the inventory by the stock sync interval. */
export interface SearchDocument {
  sku: string;
  name: string;
  description: string;
  category: string | null;
  attributes: Record<string, string | number | boolean>;
  attributesText: string;
  price: number;
  currency: string;
  active: boolean;
  available: number;
  inStock: boolean;
  createdAt: string;
  productVersion: number;
  stockVersion: number;
  suggest?: { input: string[] };
}

const STOCK_BITS = 2 ** 33;
const MAX_PRODUCT_VERSION = 2 ** 20;

/**
 * The external version of a document: product version first, stock version second, so a
 * change of either moves it up and an older read of both can never overwrite a newer one.
 * (2^20 product edits of one sku and 2^33 stock changes keep it within 2^53.)
 */
export function documentVersion(productVersion: number, stockVersion: number): number {
  if (productVersion >= MAX_PRODUCT_VERSION || stockVersion >= STOCK_BITS) {
    throw new Error(`version out of range for the search index: product ${productVersion}, stock ${stockVersion}`);
  }
  return productVersion * STOCK_BITS + stockVersion;
}

/** Name, then every word-suffix of it, so "Colombian Supremo" is found from "sup" as well as "col". */
function suggestInputs(name: string): string[] {
  const words = name.split(/\s+/).filter(Boolean);
  return [...new Set(words.map((_, i) => words.slice(i).join(' ')))].slice(0, 10);
}

export function toSearchDocument(p: Product, stock: { available: number; version: number } | undefined): SearchDocument {
  const available = Math.max(0, stock?.available ?? 0);
  return {
    sku: p.sku,
    name: p.name,
    description: p.description,
    category: p.category,
    attributes: p.attributes,
    attributesText: Object.entries(p.attributes)
      .map(([k, v]) => `${k} ${String(v)}`)
      .join(' '),
    price: p.priceAmount,
    currency: p.currency,
    active: p.active,
    available,
    inStock: available > 0,
    createdAt: p.createdAt.toISOString(),
    productVersion: p.version,
    stockVersion: stock?.version ?? 0,
    // An inactive product keeps its document (so an older version cannot come back) but is
    // neither listed nor suggested.
    ...(p.active ? { suggest: { input: suggestInputs(p.name) } } : {}),
  };
}
