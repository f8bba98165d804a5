import type { GeoPrecision } from '../domain/index.js';
import { normalizeAddress } from './normalize.js';

/** One query of the fallback chain and the precision a match for it reaches. */
export interface FallbackStep {
  query: string;
  precision: GeoPrecision;
}

const HANGUL = /[\uAC00-\uD7A3]/;
/** 시/도: 서울특별시, 부산광역시, 세종특별자치시, 제주특별자치도, 경기도 … or their short forms. */
const REGION = /^[가-힣]+(특별시|광역시|특별자치시|특별자치도|도)$/;
const REGION_SHORT = new Set(['서울', '부산', '대구', '인천', '광주', '대전', '울산', '세종', '경기', '강원', '충북', '충남', '전북', '전남', '경북', '경남', '제주']);
/** 시/군/구: 성남시, 분당구, 울릉군. */
const DISTRICT = /^[가-힣]+(시|군|구)$/;
/** 읍/면: 봉담읍, 병천면. */
const EUP_MYEON = /^[가-힣][가-힣0-9]*(읍|면)$/;
/** 동/리/가 of a lot address: 역삼동, 역삼1동, 와우리, 을지로1가 (not an apartment block "101동"). */
const DONG_RI = /^[가-힣][가-힣0-9.]*(동|리|가)$/;
/** 도로명: 테헤란로, 세종대로, 와우산로29길, 판교로255번길. */
const ROAD = /^[가-힣][가-힣0-9.·]*(로|길)$/;
/** 건물번호: 152, 48-3. */
const BUILDING_NUMBER = /^\d+(-\d+)?$/;
/** 지번: 737, 35-1, 35-1번지, 산35-1. */
const LOT_NUMBER = /^(산)?(\d+(-\d+)?)(번지)?$/;
const COUNTRY = new Set(['대한민국', '한국', '남한', 'korea', 'south korea', 'republic of korea']);
const POSTCODE = /^\d{5}$/;

/** What a Korean address is made of, as far as it could be recognised. */
export interface KoreanAddressParts {
  region?: string;
  /** 시, then 구 of a city with districts (성남시 분당구); 군; 구. */
  districts: string[];
  eupMyeon?: string;
  /** 동/리/가 of a lot address, or the reference 동 in brackets after a road address. */
  dongRi?: string;
  road?: string;
  /** Building number of a road address, or lot number (산 kept, 번지 dropped) of a lot address. */
  number?: string;
}

/** Split a Korean road (도로명) or lot (지번) address into its parts; details (floor, unit, building name) are dropped. */
export function koreanAddressParts(address: string): KoreanAddressParts {
  const text = normalizeAddress(address);
  // "(역삼동, 강남파이낸스센터)": the reference 동 of a road address, and a building name.
  const refs = [...text.matchAll(/\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(/[\s,]+/));
  const tokens = text
    .replace(/\([^)]*\)/g, ' ')
    .split(/[\s,]+/)
    .filter(Boolean);
  while (tokens.length && (COUNTRY.has(tokens[0]!.toLowerCase()) || POSTCODE.test(tokens[0]!))) tokens.shift();
  while (tokens.length && (COUNTRY.has(tokens.at(-1)!.toLowerCase()) || POSTCODE.test(tokens.at(-1)!))) tokens.pop();

  const parts: KoreanAddressParts = { districts: [] };
  let i = 0;
  const at = () => tokens[i] ?? '';
  if (REGION.test(at()) || REGION_SHORT.has(at())) parts.region = tokens[i++];
  while (parts.districts.length < 2 && DISTRICT.test(at()) && !REGION.test(at())) parts.districts.push(tokens[i++]!);
  if (EUP_MYEON.test(at())) parts.eupMyeon = tokens[i++];
  if (ROAD.test(at())) {
    parts.road = tokens[i++];
    if (at() === '지하') i++;
    if (BUILDING_NUMBER.test(at())) parts.number = tokens[i++];
    parts.dongRi = refs.find((r) => DONG_RI.test(r));
  } else if (DONG_RI.test(at())) {
    parts.dongRi = tokens[i++];
    // 산 35-1, 산35-1, 35-1번지, 35-1 번지
    const mountain = at() === '산' ? (i++, '산') : '';
    const lot = LOT_NUMBER.exec(at());
    if (lot) {
      parts.number = (mountain || lot[1] || '') + lot[2];
      i++;
    }
  }
  return parts;
}

/**
 * The queries to try for an address, most precise first: the address as written, then (for a
 * Korean address) without details, without the building or lot number, then the 동/리/읍/면,
 * each 구/군/시, and the 시/도 alone. A non-Korean address drops its leading comma-separated
 * parts one at a time. Pure: the same address always gives the same chain; no query repeats.
 */
export function fallbackQueries(address: string): FallbackStep[] {
  const full = normalizeAddress(address);
  if (!full) return [];
  const steps: FallbackStep[] = [];
  const add = (words: (string | undefined)[], precision: GeoPrecision) => {
    const query = words.filter(Boolean).join(' ').trim();
    if (query && !steps.some((s) => s.query === query)) steps.push({ query, precision });
  };
  if (HANGUL.test(full)) {
    const p = koreanAddressParts(full);
    const finest: GeoPrecision = p.number ? 'address' : p.road ? 'street' : p.dongRi || p.eupMyeon ? 'town' : p.districts.length ? 'district' : p.region ? 'region' : 'address';
    add([full], finest);
    const head = [p.region, ...p.districts];
    if (p.road) {
      add([...head, p.eupMyeon, p.road, p.number], p.number ? 'address' : 'street');
      add([...head, p.eupMyeon, p.road], 'street');
      if (p.dongRi) add([...head, p.dongRi], 'town');
    } else if (p.dongRi) {
      add([...head, p.eupMyeon, p.dongRi, p.number], p.number ? 'address' : 'town');
      add([...head, p.eupMyeon, p.dongRi], 'town');
    }
    if (p.eupMyeon) add([...head, p.eupMyeon], 'town');
    for (let k = p.districts.length; k >= 1; k--) add([p.region, ...p.districts.slice(0, k)], 'district');
    add([p.region], 'region');
    return steps;
  }
  add([full], 'address');
  const parts = full.split(', ');
  // "1600 Amphitheatre Parkway", "Technikerstraße 21a": the street without its house number.
  const first = parts[0]!;
  const street = /^\d+[a-z]?(-\d+)?\s+(.+)$/i.exec(first)?.[2] ?? /^(.+?)\s+\d+[a-z]?(-\d+)?$/i.exec(first)?.[1];
  if (street && parts.length > 1) add([[street, ...parts.slice(1)].join(', ')], 'street');
  for (let k = 1; k < parts.length; k++) add([parts.slice(k).join(', ')], k === parts.length - 1 ? 'region' : k === 1 ? 'town' : 'district');
  return steps;
}
