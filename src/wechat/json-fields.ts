/**
 * Reading fields of WeChat's JSON answers. A required field that is missing or of the wrong type
 * means the answer is not what the API documents: reported as WeChatUnavailableError (no usable
 * answer), never as a crash on `undefined`.
 */
import { WeChatUnavailableError } from '../errors';
import type { WeChatJson } from './api-transport';

/** One granted permission set; kept as WeChat sends it (may carry `confirm_info`). */
export type FuncInfoItem = { readonly funcscope_category?: { readonly id: number } } & Record<string, unknown>;

export function isObject(value: unknown): value is WeChatJson {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function str(json: WeChatJson, field: string, api: string): string {
  const value = json[field];
  if (typeof value !== 'string' || value === '') throw new WeChatUnavailableError(api, `answer without ${field}`);
  return value;
}

export function optStr(json: WeChatJson, field: string): string | undefined {
  const value = json[field];
  return typeof value === 'string' ? value : undefined;
}

export function num(json: WeChatJson, field: string, api: string): number {
  const value = json[field];
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new WeChatUnavailableError(api, `answer without ${field}`);
  return value;
}

export function funcInfo(json: WeChatJson): FuncInfoItem[] {
  return Array.isArray(json.func_info) ? json.func_info.filter(isObject) : [];
}
